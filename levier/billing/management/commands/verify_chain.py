import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from levier.billing import chain
from levier.billing.selectors import issued_in_chain_order


class Command(BaseCommand):
    help = "Recompute the hash chain of issued invoices and credit notes; exit 1 on any break."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="machine-readable report")

    def handle(self, *args: Any, **options: Any) -> None:
        checked, breaks = chain.verify(issued_in_chain_order())
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {"checked": checked, "ok": not breaks, "breaks": [b.__dict__ for b in breaks]},
                    ensure_ascii=False,
                )
            )
        else:
            for b in breaks:
                self.stdout.write(f"#{b.chain_index} {b.number}: {b.problem}")
            self.stdout.write(f"{checked} documents checked, {len(breaks)} break(s)")
        if breaks:
            raise CommandError("the invoice chain is broken", returncode=1)
