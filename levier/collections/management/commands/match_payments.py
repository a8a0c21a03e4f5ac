"""`levier match-payments [--json] [--user U]`: match every payment not fully matched.

Applies what is certain, leaves proposals for a person (the statement import already does
this for the payments it creates; this run catches up after invoices were issued, credit
notes made or proposals rejected). With --json: one object (payments,
matched_automatically, proposals, unmatched, amount_matched).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from levier.accounts.commands import command_actor
from levier.accounts.permissions import Action, PermissionDenied
from levier.audit.choices import Channel
from levier.audit.context import channel
from levier.collections.matching import match_payments


class Command(BaseCommand):
    help = "Match the payments received with the open invoices (lettrage)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="the report as one JSON object")
        parser.add_argument("--user", default="", help="username recorded in the audit trail")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = command_actor(options["user"], Action.MATCH_PAYMENTS)
        try:
            with channel(Channel.CLI):
                report = match_payments(actor=actor)
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(report.as_json(), ensure_ascii=False))
            return
        self.stdout.write(
            _(
                "%(payments)s payment(s) to match: %(matched)s matched automatically "
                "(%(amount)s €), %(proposals)s proposal(s) to review, %(unmatched)s not matched"
            )
            % {
                "payments": report.payments,
                "matched": report.matched_automatically,
                "amount": report.amount_matched,
                "proposals": report.proposals,
                "unmatched": report.unmatched,
            }
        )
        for refused in report.refused:
            self.stdout.write(_("  refused: %(reason)s") % {"reason": refused})
