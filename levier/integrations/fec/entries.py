"""Levier's own books as journal entries: sales, bank, cut-off and opening balances.

Every piece is built from what Levier already holds, never recomputed another way: the
issued documents and their lines, the payments and their allocations, the open amounts and
settlement dates kept by `levier.collections.balances`, and the FAE/PCA closing entries of
`levier.contracts.cutoff`. An audit reading the file with kpis.md's "From a FEC file" rules
must find Levier's own receivables, FAE, PCA and settlement dates.

Journals, for documents dated in [from, to]:

- **sales** (VE): one piece per issued invoice (D 411 TTC / C revenue HT per VAT rate / C VAT
  per rate) and per issued credit note (the same, reversed);
- **bank** (BQ): one piece per payment received (D 512 / C 411 per allocation, on the
  invoice's customer; what is not allocated: C 411 of the payer, or C 471 when the payer is
  unknown). A payment counts on its `received_on` with every allocation it has now, however
  late the matching was made, exactly as Levier's open amounts and KPIs count it; a payment
  received before `from` is not in the file, its allocations are in the opening balances;
- **opening** (AN), dated `from`: the receivable items open the day before (one line per
  invoice, the customer credit per customer) and the balance-sheet side of the previous
  closing (4181, 44587, 487), against the opening account 890; optional;
- **closing** (OD): at `from` the reversal of the cut-off of the day before, at `to` the
  cut-off itself (FAE: D 4181 TTC / C 706 HT / C 44587 VAT; PCA: D 706 / C 487).

**Lettering**, per customer (AAA, AAB… in order of settlement date, then invoice number): an
invoice issued on or before `to` and settled on or before `to` (its `settled_on`), and
present in the file (issued in the period, or settled in it and so opened in the AN piece),
gets a letter on its own 411 line and on every 411 line of its credit notes and allocations
in the file; DateLet is its `settled_on` on all of them. An invoice settled before `from` was
lettered in the earlier file. A lettered group sums to zero, unless the invoice was credited
or paid beyond its total (a negative open amount in Levier): the group then holds that excess.

Queries: a handful whatever the volume (documents and their lines are two parallel streams
in the same order, payments and their allocations likewise, plus the lettering, the opening
balances and the two cut-offs), read with `.iterator()`.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import F, Q, Sum
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from levier.billing.choices import DocumentKind, InvoiceStatus
from levier.billing.models import Invoice, InvoiceLine
from levier.collections.models import Allocation, Payment
from levier.contracts.cutoff import (
    ACCOUNT_FAE,
    ACCOUNT_PCA,
    ACCOUNT_REVENUE,
    ACCOUNT_VAT,
    Cutoff,
    JournalLine,
    compute_cutoff,
)
from levier.integrations.fec.accounts import AccountPlan
from levier.integrations.fec.errors import FecExportError
from levier.integrations.fec.opening import ACCOUNTING_CURRENCY, CHUNK, open_items
from levier.lib.money import HUNDRED, ZERO, quantize

ONE_DAY = dt.timedelta(days=1)

# Order of the pieces of one day: opening, reversals, sales, bank, closing.
RANK_OPENING, RANK_REVERSAL, RANK_SALES, RANK_ADVANCE, RANK_BANK, RANK_CLOSING = range(6)


@dataclass(frozen=True)
class EntryLine:
    """One line of a piece; `debit` and `credit` are never both non-zero, never negative."""

    account: str
    account_label: str
    label: str
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    aux_num: str = ""
    aux_label: str = ""
    letter: str = ""
    letter_date: dt.date | None = None
    # Amount and currency of a document in a foreign currency (never set: see ACCOUNTING_CURRENCY).
    currency_amount: Decimal | None = None
    currency: str = ""


@dataclass(frozen=True)
class Piece:
    """Lines sharing a journal and an entry number (the writer numbers them in file order)."""

    journal: str
    journal_label: str
    date: dt.date
    ref: str
    ref_date: dt.date
    lines: tuple[EntryLine, ...]
    rank: int

    @property
    def debit(self) -> Decimal:
        return sum((line.debit for line in self.lines), ZERO)

    @property
    def credit(self) -> Decimal:
        return sum((line.credit for line in self.lines), ZERO)


def letter_code(n: int) -> str:
    """AAA, AAB … ZZZ, then AAAA …: the n-th letter code (0-based) of an account."""
    width = 3
    while n >= 26**width:
        n -= 26**width
        width += 1
    chars = []
    for _i in range(width):
        n, digit = divmod(n, 26)
        chars.append(chr(ord("A") + digit))
    return "".join(reversed(chars))


def _rate_text(rate: Decimal) -> str:
    return f"{rate.normalize():f}"


def _sides(amount: Decimal) -> tuple[Decimal, Decimal]:
    """(debit, credit) of a signed amount: positive is a debit."""
    amount = quantize(amount) + ZERO
    return (amount, ZERO) if amount >= 0 else (ZERO, -amount)


class EntryBuilder:
    """The pieces of one export, in file order (date, then journal rank, then document)."""

    def __init__(
        self, *, plan: AccountPlan, date_from: dt.date, date_to: dt.date, opening: bool = True
    ) -> None:
        self.plan = plan
        self.date_from = date_from
        self.date_to = date_to
        self.opening = opening
        self.warnings: list[str] = []
        self.letters: dict[int, tuple[str, dt.date]] = {}
        self._eve_cutoff: Cutoff | None = None
        self._labels = self._account_labels()
        # The labels of every document and payment, translated once rather than per line.
        self._invoice_text = _("Invoice %(number)s %(customer)s")
        self._credit_note_text = _("Credit note %(number)s %(customer)s")
        self._received_text = _("Payment received %(payer)s")
        self._payment_of_text = _("Payment of %(number)s %(payer)s")

    # -- labels -------------------------------------------------------------------------

    def _account_labels(self) -> dict[str, str]:
        plan = self.plan
        defaults = {
            # First: when both are 411000 (the default), the account is "Customers".
            plan.customer_credit: _("Customers - credit balances"),
            plan.customers: _("Customers"),
            plan.revenue: _("Services rendered"),
            plan.vat: _("VAT collected"),
            plan.bank: _("Bank"),
            plan.fae: _("Customers - invoices to be issued"),
            plan.fae_vat: _("VAT on invoices to be issued"),
            plan.pca: _("Deferred revenue"),
            plan.suspense: _("Suspense account"),
            plan.opening: _("Opening balance"),
        }
        for rate, account in plan.vat_by_rate:
            rates = [r for r, a in plan.vat_by_rate if a == account]
            if len(rates) == 1 and account != plan.vat:
                defaults[account] = _("VAT collected %(rate)s %%") % {"rate": _rate_text(rate)}
        return {account: plan.label(account, label) for account, label in defaults.items()}

    def _account_label(self, account: str) -> str:
        if account not in self._labels:
            self._labels[account] = self.plan.label(account, _("Services rendered"))
        return self._labels[account]

    def _line(self, account: str, label: str, amount: Decimal, **extra: Any) -> EntryLine:
        debit, credit = _sides(amount)
        return EntryLine(
            account=account,
            account_label=self._account_label(account),
            label=label,
            debit=debit,
            credit=credit,
            **extra,
        )

    def _customer_line(
        self, label: str, amount: Decimal, customer_id: int, customer_name: str, invoice_id: int
    ) -> EntryLine:
        letter, letter_date = self.letters.get(invoice_id, ("", None))
        return self._line(
            self.plan.customers,
            label,
            amount,
            aux_num=self.plan.customer_aux(customer_id),
            aux_label=customer_name,
            letter=letter,
            letter_date=letter_date,
        )

    def _journal(self, code: str, default: str) -> tuple[str, str]:
        return code, self.plan.journal_label(code, default)

    # -- the whole file -----------------------------------------------------------------

    def pieces(self) -> Iterator[Piece]:
        """Every piece, chronologically; the streams are read lazily, side by side."""
        self.letters = self._letters()
        streams: list[Iterable[Piece]] = [
            self._opening_pieces(),
            self._reversal_pieces(),
            self._sales_pieces(),
            self._advance_pieces(),
            self._bank_pieces(),
            self._closing_pieces(),
        ]
        return heapq.merge(*streams, key=lambda piece: (piece.date, piece.rank))

    def _letters(self) -> dict[int, tuple[str, dt.date]]:
        """Invoice id → (letter, settlement date), per customer in order of settlement."""
        rows = (
            Invoice.objects.filter(
                status=InvoiceStatus.ISSUED,
                kind=DocumentKind.INVOICE,
                currency=ACCOUNTING_CURRENCY,
                issue_date__lte=self.date_to,
                settled_on__lte=self.date_to,
            )
            .filter(Q(settled_on__gte=self.date_from) | Q(issue_date__gte=self.date_from))
            .order_by("customer_id", "settled_on", "number")
            .values_list("pk", "customer_id", "settled_on")
        )
        letters: dict[int, tuple[str, dt.date]] = {}
        counters: dict[int, int] = defaultdict(int)
        for pk, customer_id, settled_on in rows.iterator(chunk_size=CHUNK):
            assert settled_on is not None  # filtered in SQL
            letters[pk] = (letter_code(counters[customer_id]), settled_on)
            counters[customer_id] += 1
        return letters

    # -- sales --------------------------------------------------------------------------

    def _sales_pieces(self) -> Iterator[Piece]:
        window = {"issue_date__gte": self.date_from, "issue_date__lte": self.date_to}
        documents = (
            Invoice.objects.filter(status=InvoiceStatus.ISSUED, **window)
            .order_by("issue_date", "number", "pk")
            .values_list(
                "pk",
                "kind",
                "number",
                "issue_date",
                "customer_id",
                "customer__name",
                "buyer_name",
                "credited_invoice_id",
                "currency",
                "total_net",
                "total_vat",
                "total_gross",
            )
        )
        lines = (
            InvoiceLine.objects.filter(
                invoice__status=InvoiceStatus.ISSUED,
                **{f"invoice__{key}": value for key, value in window.items()},
            )
            .order_by("invoice__issue_date", "invoice__number", "invoice_id", "position", "pk")
            .values_list("invoice_id", "revenue_account", "vat_rate", "net_amount")
        )
        groups = itertools.groupby(lines.iterator(chunk_size=CHUNK), key=lambda row: row[0])
        pending = next(groups, None)
        journal, journal_label = self._journal(
            self.plan.sales_journal, pgettext("FEC journal", "Sales")
        )
        for document in documents.iterator(chunk_size=CHUNK):
            mine: list[tuple[Any, ...]] = []
            if pending is not None and pending[0] == document[0]:
                mine = list(pending[1])
                pending = next(groups, None)
            piece = self._sales_piece(document, mine, journal, journal_label)
            if piece is not None:
                yield piece

    def _sales_piece(
        self,
        document: tuple[Any, ...],
        lines: Sequence[tuple[Any, ...]],
        journal: str,
        journal_label: str,
    ) -> Piece | None:
        (
            pk,
            kind,
            number,
            issue_date,
            customer_id,
            customer_name,
            buyer_name,
            credited_id,
            currency,
            total_net,
            total_vat,
            total_gross,
        ) = document
        if currency != ACCOUNTING_CURRENCY:
            self.warnings.append(
                _("%(number)s is in %(currency)s: not exported (Levier keeps no exchange rate)")
                % {"number": number, "currency": currency}
            )
            return None
        if not lines:
            raise FecExportError(_("%(number)s has no line") % {"number": number})
        revenue: dict[tuple[Decimal, str], Decimal] = defaultdict(lambda: ZERO)
        bases: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
        for _id, line_account, rate, net in lines:
            revenue[(rate, self.plan.revenue_account(rate, line_account))] += net
            bases[rate] += net
        # VAT per rate as `levier.lib.money.document_totals` computed it at issue.
        vat = {rate: quantize(basis * rate / HUNDRED) for rate, basis in bases.items()}
        net_sum, vat_sum = sum(bases.values(), ZERO), sum(vat.values(), ZERO)
        if (net_sum, vat_sum, net_sum + vat_sum) != (total_net, total_vat, total_gross):
            raise FecExportError(
                _(
                    "%(number)s: its lines give %(net)s HT + %(vat)s VAT, the document says "
                    "%(doc_net)s + %(doc_vat)s = %(doc_gross)s"
                )
                % {
                    "number": number,
                    "net": net_sum,
                    "vat": vat_sum,
                    "doc_net": total_net,
                    "doc_vat": total_vat,
                    "doc_gross": total_gross,
                }
            )
        is_invoice = kind == DocumentKind.INVOICE
        sign = Decimal(1) if is_invoice else Decimal(-1)
        template = self._invoice_text if is_invoice else self._credit_note_text
        label = template % {"number": number, "customer": buyer_name or customer_name}
        entry = [
            self._customer_line(
                label,
                sign * total_gross,
                customer_id,
                customer_name,
                pk if is_invoice else credited_id,
            )
        ]
        for rate, account in sorted(revenue, key=lambda key: (-key[0], key[1])):
            if revenue[(rate, account)]:
                entry.append(self._line(account, label, -sign * revenue[(rate, account)]))
        for rate in sorted(vat, reverse=True):
            if vat[rate]:
                entry.append(self._line(self.plan.vat_account(rate), label, -sign * vat[rate]))
        return Piece(
            journal, journal_label, issue_date, number, issue_date, tuple(entry), RANK_SALES
        )

    # -- bank ---------------------------------------------------------------------------

    def _bank_pieces(self) -> Iterator[Piece]:
        window = {"received_on__gte": self.date_from, "received_on__lte": self.date_to}
        payments = (
            Payment.objects.filter(**window)
            .order_by("received_on", "pk")
            .values_list(
                "pk",
                "received_on",
                "amount",
                "allocated",
                "currency",
                "customer_id",
                "customer__name",
                "payer_name",
            )
        )
        allocations = (
            Allocation.objects.filter(**{f"payment__{key}": v for key, v in window.items()})
            .order_by(
                "payment__received_on",
                "payment_id",
                "invoice__issue_date",
                "invoice__number",
                "pk",
            )
            .values_list(
                "payment_id",
                "invoice_id",
                "amount",
                "invoice__number",
                "invoice__customer_id",
                "invoice__customer__name",
                "invoice__issue_date",
            )
        )
        groups = itertools.groupby(allocations.iterator(chunk_size=CHUNK), key=lambda r: r[0])
        pending = next(groups, None)
        journal, journal_label = self._journal(self.plan.bank_journal, _("Bank"))
        for payment in payments.iterator(chunk_size=CHUNK):
            mine: list[tuple[Any, ...]] = []
            if pending is not None and pending[0] == payment[0]:
                mine = list(pending[1])
                pending = next(groups, None)
            piece = self._bank_piece(payment, mine, journal, journal_label)
            if piece is not None:
                yield piece

    def _bank_piece(
        self,
        payment: tuple[Any, ...],
        allocations: Sequence[tuple[Any, ...]],
        journal: str,
        journal_label: str,
    ) -> Piece | None:
        pk, received_on, amount, allocated, currency, customer_id, customer_name, payer = payment
        ref = f"PMT-{pk:06d}"
        if currency != ACCOUNTING_CURRENCY:
            self.warnings.append(
                _("%(ref)s is in %(currency)s: not exported (Levier keeps no exchange rate)")
                % {"ref": ref, "currency": currency}
            )
            return None
        payer = payer or customer_name or ""
        label = self._received_text % {"payer": payer}
        entry = [self._line(self.plan.bank, label, amount)]
        left = amount
        for (
            _payment,
            invoice_id,
            part,
            number,
            invoice_customer,
            invoice_customer_name,
            issue_date,
        ) in allocations:
            line_label = self._payment_of_text % {"number": number, "payer": payer}
            if self._separate_credit and issue_date > received_on:
                # An advance: customer credit until the invoice exists (`_advance_pieces`).
                entry.append(
                    self._line(
                        self.plan.customer_credit,
                        line_label,
                        -part,
                        aux_num=self.plan.customer_aux(invoice_customer),
                        aux_label=invoice_customer_name,
                    )
                )
            else:
                entry.append(
                    self._customer_line(
                        line_label, -part, invoice_customer, invoice_customer_name, invoice_id
                    )
                )
            left -= part
        if left != amount - allocated:
            self.warnings.append(
                _("%(ref)s: its allocations add up to %(sum)s, the payment says %(allocated)s")
                % {"ref": ref, "sum": amount - left, "allocated": allocated}
            )
        if left < 0:
            raise FecExportError(
                _("%(ref)s: %(amount)s received, %(allocated)s allocated")
                % {"ref": ref, "amount": amount, "allocated": amount - left}
            )
        if left > 0 and customer_id is not None:
            credit_label = _("Customer credit %(payer)s") % {"payer": payer}
            entry.append(
                self._line(
                    self.plan.customer_credit,
                    credit_label,
                    -left,
                    aux_num=self.plan.customer_aux(customer_id),
                    aux_label=customer_name,
                )
            )
        elif left > 0:
            unknown_label = _("Unidentified payment %(payer)s") % {"payer": payer}
            entry.append(self._line(self.plan.suspense, unknown_label, -left))
        return Piece(journal, journal_label, received_on, ref, received_on, tuple(entry), RANK_BANK)

    # -- advances -----------------------------------------------------------------------

    @property
    def _separate_credit(self) -> bool:
        """Customer credit on its own account (e.g. 4191): money received for an invoice
        not yet issued waits there, so that 411 holds exactly Levier's receivables."""
        return self.plan.customer_credit != self.plan.customers

    def _advance_pieces(self) -> Iterator[Piece]:
        """On an invoice's issue date, the payments received before it for it move from the
        customer credit account to 411 (lettered with the invoice): one piece per invoice,
        in the closing journal. Nothing to move when customer credit stays on 411."""
        if not self._separate_credit:
            return
        advances = (
            Allocation.objects.filter(
                invoice__status=InvoiceStatus.ISSUED,
                invoice__currency=ACCOUNTING_CURRENCY,
                invoice__issue_date__gte=self.date_from,
                invoice__issue_date__lte=self.date_to,
                payment__currency=ACCOUNTING_CURRENCY,
                payment__received_on__lt=F("invoice__issue_date"),
            )
            .order_by("invoice__issue_date", "invoice__number", "invoice_id")
            .values_list(
                "invoice_id",
                "invoice__number",
                "invoice__issue_date",
                "invoice__customer_id",
                "invoice__customer__name",
            )
            .annotate(total=Sum("amount"))
        )
        journal, journal_label = self._journal(self.plan.closing_journal, _("Cut-off entries"))
        for invoice_id, number, issue_date, customer_id, name, total in advances.iterator(
            chunk_size=CHUNK
        ):
            label = _("Advance received for %(number)s") % {"number": number}
            entry = (
                self._line(
                    self.plan.customer_credit,
                    label,
                    total,
                    aux_num=self.plan.customer_aux(customer_id),
                    aux_label=name,
                ),
                self._customer_line(label, -total, customer_id, name, invoice_id),
            )
            yield Piece(
                journal, journal_label, issue_date, f"ADV-{number}", issue_date, entry, RANK_ADVANCE
            )

    # -- cut-off ------------------------------------------------------------------------

    def eve_cutoff(self) -> Cutoff:
        """The cut-off of the day before `from`: reversed at `from`, opened in the AN."""
        if self._eve_cutoff is None:
            self._eve_cutoff = compute_cutoff(self.date_from - ONE_DAY, with_invoiced=False)
        return self._eve_cutoff

    def _account_of(self, cutoff_account: str) -> str:
        accounts = {
            ACCOUNT_FAE: self.plan.fae,
            ACCOUNT_REVENUE: self.plan.revenue,
            ACCOUNT_VAT: self.plan.fae_vat,
            ACCOUNT_PCA: self.plan.pca,
        }
        if cutoff_account not in accounts:
            raise FecExportError(
                _("the cut-off uses account %(account)s, which the export does not map")
                % {"account": cutoff_account}
            )
        return accounts[cutoff_account]

    def _cutoff_pieces(
        self, cutoff: Cutoff, on: dt.date, *, reverse: bool, rank: int
    ) -> Iterator[Piece]:
        """One piece per entry of the cut-off (FAE, PCA), as computed there or reversed."""
        journal, journal_label = self._journal(self.plan.closing_journal, _("Cut-off entries"))
        for label, group in itertools.groupby(cutoff.entries, key=lambda line: line.label):
            lines: list[JournalLine] = list(group)
            kind = "FAE" if any(line.account == ACCOUNT_FAE for line in lines) else "PCA"
            ref = f"{kind}-{cutoff.as_of:%Y%m%d}" + ("-REV" if reverse else "")
            text = _("Reversal: %(label)s") % {"label": label} if reverse else label
            sign = Decimal(-1) if reverse else Decimal(1)
            entry = tuple(
                self._line(self._account_of(line.account), text, sign * (line.debit - line.credit))
                for line in lines
            )
            yield Piece(journal, journal_label, on, ref, on, entry, rank)

    def _reversal_pieces(self) -> Iterator[Piece]:
        yield from self._cutoff_pieces(
            self.eve_cutoff(), self.date_from, reverse=True, rank=RANK_REVERSAL
        )

    def _closing_pieces(self) -> Iterator[Piece]:
        cutoff = compute_cutoff(self.date_to, with_invoiced=False)
        yield from self._cutoff_pieces(cutoff, self.date_to, reverse=False, rank=RANK_CLOSING)

    # -- opening balances ---------------------------------------------------------------

    def _opening_pieces(self) -> Iterator[Piece]:
        if not self.opening:
            return
        journal, journal_label = self._journal(self.plan.opening_journal, _("Opening balances"))
        on = self.date_from
        receivables = self._opening_receivables()
        if receivables:
            label = _("Opening balances of receivables")
            balance = -sum((line.debit - line.credit for line in receivables), ZERO)
            lines = (*receivables, self._line(self.plan.opening, label, balance))
            yield Piece(journal, journal_label, on, f"AN-{on:%Y%m%d}-AR", on, lines, RANK_OPENING)
        cutoff = self.eve_cutoff()
        label = _("Opening balances of the cut-off at %(date)s") % {
            "date": f"{cutoff.as_of:%d/%m/%Y}"
        }
        kept = [line for line in cutoff.entries if line.account != ACCOUNT_REVENUE]
        if kept:
            opened = [
                self._line(self._account_of(line.account), label, line.debit - line.credit)
                for line in kept
            ]
            balance = -sum((line.debit - line.credit for line in opened), ZERO)
            if balance:
                opened.append(self._line(self.plan.opening, label, balance))
            yield Piece(
                journal, journal_label, on, f"AN-{on:%Y%m%d}-CUT", on, tuple(opened), RANK_OPENING
            )

    def _opening_receivables(self) -> list[EntryLine]:
        """One 411 line per open item of `levier.integrations.fec.opening`, lettered."""
        items = open_items(self.date_from)
        lines: list[EntryLine] = []
        for item in items.invoices:
            label = _("Opening balance of invoice %(number)s") % {"number": item.number}
            if self._separate_credit and item.issue_date >= self.date_from:
                # Only advances on an invoice issued later: customer credit until then.
                lines.append(
                    self._line(
                        self.plan.customer_credit,
                        label,
                        item.amount,
                        aux_num=self.plan.customer_aux(item.customer_id),
                        aux_label=item.customer_name,
                    )
                )
                continue
            lines.append(
                self._customer_line(
                    label, item.amount, item.customer_id, item.customer_name, item.invoice_id
                )
            )
        for payer, credit in items.credits.items():
            if payer is None:
                label = _("Opening unidentified payments")
                lines.append(self._line(self.plan.suspense, label, -credit.amount))
                continue
            lines.append(
                self._line(
                    self.plan.customer_credit,
                    _("Opening customer credit"),
                    -credit.amount,
                    aux_num=self.plan.customer_aux(payer),
                    aux_label=credit.customer_name,
                )
            )
        return lines
