"""`levier import-timesheet FILE [--user USERNAME]`: the timesheet CSV import from a shell.

All or nothing, like the import screen: the entries are printed as imported, or every
problem is listed on stderr with its line and column and the exit status is 1, so a script
can tell a refused file from an imported one.
"""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from levier.accounts.commands import command_actor
from levier.accounts.models import User
from levier.accounts.permissions import Action, PermissionDenied
from levier.audit.choices import Channel
from levier.audit.context import channel
from levier.contracts.timesheet import MAX_BYTES, TimesheetRejected, import_timesheet
from levier.lib.errors import DomainError


class Command(BaseCommand):
    help = (
        "Import a timesheet CSV (columns contract, line, month, quantity, comment): "
        "all rows or none."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--user",
            default="",
            help="username recorded in the audit trail; must be allowed to manage contracts "
            "(default: the first active user who is)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        actor = self._actor(options["user"])
        with path.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)  # the service refuses a larger file
        try:
            with channel(Channel.CLI):
                result = import_timesheet(actor=actor, data=data, filename=path.name)
        except TimesheetRejected as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            raise CommandError(exc.message.splitlines()[0]) from None
        except (DomainError, PermissionDenied) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{result} ({actor.username})")

    def _actor(self, username: str) -> User:
        return command_actor(username, Action.MANAGE_CONTRACTS)
