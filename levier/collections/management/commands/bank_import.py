"""`levier bank-import FILE… [--json] [--user U]`: statements in, each file all or nothing.

With --json: one object per file (file, format, statements, lines_imported,
lines_already_known, payments, matched_automatically, proposals, warnings, error). The new
payments are matched at once (`levier.collections.matching`). Exit status 1 when any file
was rejected.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from levier.accounts.commands import command_actor
from levier.accounts.permissions import Action, PermissionDenied
from levier.audit.choices import Channel
from levier.audit.context import channel
from levier.collections.services import ImportReport, import_statement_file
from levier.collections.statements.model import StatementError


class Command(BaseCommand):
    help = "Import bank statements (camt.053, CFONB 120, OFX; the format is read from the file)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", help="statement files")
        parser.add_argument("--json", action="store_true", help="one JSON object per file")
        parser.add_argument("--user", default="", help="username recorded in the audit trail")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = command_actor(options["user"], Action.IMPORT_BANK_STATEMENTS)
        reports = []
        for name in options["files"]:
            path = Path(name)
            try:
                data = path.read_bytes()
            except OSError as exc:
                reports.append(ImportReport(file=name, error=f"{name}: {exc.strerror}"))
                continue
            try:
                with channel(Channel.CLI):
                    reports.append(import_statement_file(actor=actor, data=data, filename=name))
            except StatementError as exc:
                reports.append(ImportReport(file=name, error=str(exc)))
            except PermissionDenied as exc:
                raise CommandError(str(exc)) from exc
        if options["json"]:
            for report in reports:
                self.stdout.write(json.dumps(report.as_json(), ensure_ascii=False))
        else:
            for r in reports:
                if r.error:
                    self.stdout.write(f"REJETÉ {r.file} : {r.error}")
                    continue
                self.stdout.write(
                    f"{r.file} ({r.format}) : {r.statements} relevé(s), {r.lines_imported} "
                    f"ligne(s) importée(s), {r.lines_already_known} déjà connue(s)"
                )
                if r.payments:
                    self.stdout.write(
                        _(
                            "  %(payments)s payment(s): %(matched)s matched automatically, "
                            "%(proposals)s proposal(s) to review"
                        )
                        % {
                            "payments": r.payments,
                            "matched": r.matched_automatically,
                            "proposals": r.proposals,
                        }
                    )
                for warning in r.warnings:
                    self.stdout.write(f"  attention : {warning}")
        rejected = [r for r in reports if r.error]
        if rejected:
            raise CommandError(f"{len(rejected)} file(s) rejected", returncode=1)
