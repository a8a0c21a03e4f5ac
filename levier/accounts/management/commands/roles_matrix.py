from typing import Any

from django.core.management.base import BaseCommand

from levier.accounts.docs import matrix_markdown


class Command(BaseCommand):
    help = "Print the role × action permission matrix as Markdown (the table of docs/roles.md)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(matrix_markdown(), ending="")
