"""`levier cutoff --date YYYY-MM-DD [--json]`: FAE and PCA at a closing date, per contract.

For the accountant at a closing: the accrued revenue (FAE) and deferred revenue (PCA) of
every contract, their totals and the closing entries to book (reversed the next day), as a
text table or as JSON (amounts as strings with two decimals). Read-only: it can be run for
any date, as often as wanted. The rules are in `levier.contracts.cutoff`.
"""

from __future__ import annotations

import datetime as dt
import json
from argparse import ArgumentParser
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from levier.contracts.cutoff import Cutoff, compute_cutoff
from levier.lib.money import ZERO, quantize


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(
            _("--date: “%(value)s” is not a date in the YYYY-MM-DD format") % {"value": value}
        ) from None


def _money(value: Decimal) -> str:
    return f"{quantize(value) + ZERO:,.2f}".replace(",", " ")


class Command(BaseCommand):
    help = (
        "Accrued revenue (FAE, 4181) and deferred revenue (PCA, 487) per contract at a "
        "closing date, with the closing entries."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--date", required=True, help="closing date, YYYY-MM-DD")
        parser.add_argument("--json", action="store_true", help="machine-readable report")

    def handle(self, *args: Any, **options: Any) -> None:
        cutoff = compute_cutoff(_date(options["date"]))
        if options["json"]:
            self.stdout.write(json.dumps(cutoff.as_json(), ensure_ascii=False))
        else:
            self._table(cutoff)

    def _table(self, cutoff: Cutoff) -> None:
        """One row per contract, the totals, then the entries: what a closing file holds."""
        write = self.stdout.write
        write(_("Cut-off at %(date)s (amounts HT)") % {"date": f"{cutoff.as_of:%d/%m/%Y}"})
        amounts = (_("Invoiced"), _("Earned"), _("FAE"), _("FAE VAT"), _("PCA"))
        row = "{:<18} {:<30}" + " {:>14}" * len(amounts)
        write(row.format(_("Contract"), _("Customer"), *amounts))
        for c in cutoff.contracts:
            number = c.contract_number if c.contract_id is not None else _("(no contract)")
            values = (c.invoiced, c.earned, c.fae, c.fae_vat, c.pca)
            write(row.format(number[:18], c.customer_name[:30], *map(_money, values)))
        invoiced = sum((c.invoiced for c in cutoff.contracts), ZERO)
        earned = sum((c.earned for c in cutoff.contracts), ZERO)
        totals = (invoiced, earned, cutoff.fae, cutoff.fae_vat, cutoff.pca)
        write(row.format(_("Total"), "", *map(_money, totals)))
        write("")
        if not cutoff.entries:
            write(_("No closing entry: nothing to accrue or defer."))
            return
        write(_("Closing entries"))
        entry = "{:<8} {:<70} {:>14} {:>14}"
        write(entry.format(_("Account"), _("Label"), _("Debit"), _("Credit")))
        for line in cutoff.entries:
            debit = _money(line.debit) if line.debit else ""
            credit = _money(line.credit) if line.credit else ""
            write(entry.format(line.account, line.label, debit, credit))
