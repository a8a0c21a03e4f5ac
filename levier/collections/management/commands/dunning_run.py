"""`levier dunning-run [--date YYYY-MM-DD] [--dry-run] [--json] [--user NAME]`: the reminders.

Without --dry-run it runs `levier.collections.dunning.run_dunning`: messages queued (sent by
jobs after the commit), tasks created, all in one transaction, safe to run again the same
day. With --dry-run it prints the plan (`plan_dunning`) and writes nothing: who would get
which step on which channel, and each invoice skipped with its reason.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from levier.accounts.commands import command_actor
from levier.accounts.permissions import Action, PermissionDenied, require
from levier.audit.choices import Channel
from levier.audit.context import channel
from levier.collections.dunning import DunningPlan, plan_dunning, run_dunning
from levier.lib.errors import NotAllowed


class Command(BaseCommand):
    help = (
        "Send the payment reminders due on a date (default: today), one message per "
        "customer; --dry-run shows what would be sent and why invoices are skipped. Safe to "
        "run again: no step is sent twice."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", default="", help="run date YYYY-MM-DD (default: today)")
        parser.add_argument(
            "--dry-run", action="store_true", help="print the plan, write and send nothing"
        )
        parser.add_argument("--json", action="store_true", help="machine-readable report")
        parser.add_argument(
            "--user",
            default="",
            help="username recorded in the audit trail (default: the first who may run it)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            day = dt.date.fromisoformat(options["date"]) if options["date"] else None
        except ValueError:
            raise CommandError(f"--date {options['date']!r}: expected YYYY-MM-DD") from None
        day = day or timezone.localdate()
        actor = command_actor(options["user"], Action.RUN_DUNNING)
        try:
            if options["dry_run"]:
                require(actor, Action.RUN_DUNNING)
                self._print_plan(plan_dunning(day), options["json"])
                return
            with channel(Channel.CLI):
                run = run_dunning(actor=actor, run_date=day)
        except (PermissionDenied, NotAllowed) as exc:
            raise CommandError(str(exc)) from exc
        report = {
            "run_id": run.pk,
            "run_date": day.isoformat(),
            "status": run.status,
            "messages": run.messages,
            "tasks": run.tasks,
            "items": run.items,
            "skipped": run.skipped,
        }
        if options["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False))
            return
        skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(run.skipped.items()))
        self.stdout.write(
            f"{day}: {run.messages} reminder(s) queued, {run.tasks} task(s), "
            f"{run.items} invoice step(s); skipped: {skipped or 'none'}"
        )

    def _print_plan(self, plan: DunningPlan, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps({"dry_run": True, **plan.as_json()}, ensure_ascii=False))
            return
        self.stdout.write(f"Dry run for {plan.run_date}: nothing is written or sent.")
        for message in plan.messages:
            action = f"task ({message.task_kind})" if message.task_kind else message.channel
            self.stdout.write(
                f"{message.customer.name}: {message.step.name} [{action}], "
                f"{len(message.items)} invoice(s), {message.total_due} due"
                + (
                    f", interest {message.interest}, indemnity {message.indemnity}"
                    if message.step.is_formal_notice
                    else ""
                )
            )
            for item in message.items:
                self.stdout.write(
                    f"    {item.number}  due {item.due_date}  {item.open_amount}  "
                    f"{item.days_late} day(s) late  ({item.step.name})"
                )
        for entry in plan.skipped:
            detail = f" ({entry.detail})" if entry.detail else ""
            self.stdout.write(
                f"SKIPPED {entry.number} {entry.customer_name}: {entry.label}{detail}"
            )
        counts = ", ".join(f"{n} {reason}" for reason, n in sorted(plan.skipped_counts().items()))
        self.stdout.write(
            f"{len(plan.messages)} customer(s), {plan.items} invoice step(s), "
            f"{plan.already_done} already done; skipped: {counts or 'none'}"
        )
