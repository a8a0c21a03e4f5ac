import datetime as dt
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from levier.accounts.commands import command_actor
from levier.accounts.models import User
from levier.accounts.permissions import Action, PermissionDenied
from levier.audit.choices import Channel
from levier.audit.context import channel
from levier.billing.run import billable_contracts, run_billing


class Command(BaseCommand):
    help = (
        "Bill everything billable on a date (milestones reached, deliveries, periods due, "
        "time and materials, price revisions): draft invoices, or issued ones with --issue. "
        "Safe to run again: nothing is billed twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", default="", help="billing date YYYY-MM-DD (default: today)")
        parser.add_argument("--issue", action="store_true", help="issue the drafts it creates")
        parser.add_argument(
            "--user",
            default="",
            help="ADV username recorded in the audit trail (default: the first)",
        )
        parser.add_argument("--json", action="store_true", help="machine-readable report")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            as_of = dt.date.fromisoformat(options["date"]) if options["date"] else None
        except ValueError:
            raise CommandError(f"--date {options['date']!r}: expected YYYY-MM-DD") from None
        as_of = as_of or timezone.localdate()
        actor = self._actor(options["user"])
        total = billable_contracts(as_of).count()
        bar = tqdm(
            total=total,
            desc="contrats",
            unit="ct",
            disable=options["no_progress"] or options["json"],
        )
        try:
            with channel(Channel.CLI):
                run = run_billing(
                    actor=actor, as_of=as_of, issue=options["issue"], progress=bar.update
                )
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        report = {
            "as_of": as_of.isoformat(),
            "contracts": run.contracts_count,
            "drafts": run.drafts_count,
            "items": run.items_count,
            "issued": run.issued_count,
            "revisions": run.revisions_count,
            "blocked": run.blocked,
            "errors": run.errors,
        }
        if options["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False))
        else:
            self.stdout.write(
                f"{as_of}: {run.contracts_count} contrats, {run.drafts_count} brouillons "
                f"({run.items_count} éléments), {run.issued_count} émises, "
                f"{run.revisions_count} révisions de prix"
            )
            for message in run.blocked:
                self.stdout.write(f"BLOQUÉ : {message}")
            for message in run.errors:
                self.stdout.write(f"ERREUR : {message}")
        if run.blocked or run.errors:
            raise CommandError(
                f"{len(run.blocked)} blocked, {len(run.errors)} error(s): see above",
                returncode=2,
            )

    def _actor(self, username: str) -> User:
        return command_actor(username, Action.RUN_BILLING)
