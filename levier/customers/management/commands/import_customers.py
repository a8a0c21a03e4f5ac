"""`levier import-customers FILE [--skip-invalid] [--json]`: the CSV import from a shell.

Exit status 1 when any row was rejected (or the file could not be read), so a script can
tell a partial or refused import from a complete one.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from levier.accounts.choices import Role
from levier.accounts.commands import command_actor
from levier.accounts.models import User
from levier.accounts.permissions import Action, PermissionDenied
from levier.audit.choices import Channel
from levier.audit.context import channel
from levier.customers.services import import_customers


class Command(BaseCommand):
    help = "Import customers from a CSV file (columns: see docs/customers-import.md)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="import the valid rows and list the rejected ones (default: all or nothing)",
        )
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument(
            "--user",
            default="",
            help="username recorded in the audit trail (default: the first active administrator)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        actor = self._actor(options["user"])
        try:
            with channel(Channel.CLI), path.open("rb") as fh:
                report = import_customers(
                    actor=actor, file=fh, skip_invalid=options["skip_invalid"]
                )
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        else:
            for error in report.file_errors:
                self.stderr.write(error)
            for problem in report.problems:
                self.stderr.write(str(problem))
            self.stdout.write(
                f"{report.rows} row(s) read, {report.imported} imported, "
                f"{len(report.rejected_lines)} rejected"
            )
        if not report.ok:
            raise SystemExit(1)

    def _actor(self, username: str) -> User:
        return command_actor(username, Action.IMPORT_CUSTOMERS, prefer=Role.ADMINISTRATEUR)
