"""Invoice scenarios shared by the e-invoice tests (built here, no sample file needed)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from levier.einvoice.model import (
    Address,
    Contact,
    Invoice,
    InvoiceLine,
    LegalNotes,
    Note,
    Party,
    PaymentTerms,
    PrecedingInvoice,
)

D = Decimal

#: ../shared/samples relative to the repository root (see SOURCES.md there)
SAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "samples"

SELLER = Party(
    name="Levier Conseil SAS",
    address=Address(line1="12 rue de la Paix", postcode="75002", city="Paris"),
    siren="404833048",
    siret="40483304800014",
    vat_id="FR83404833048",
    trading_name="Levier Conseil",
    contact=Contact(name="Service ADV", phone="01 23 45 67 89", email="adv@levier.example"),
)
BUYER = Party(
    name="Industries Dupont SA",
    address=Address(line1="5 avenue des Usines", line2="Bâtiment B", postcode="69007", city="Lyon"),
    siren="732829320",
    vat_id="FR44732829320",
    electronic_address="732829320_00021",
    contact=Contact(name="Comptabilité fournisseurs", email="factures@dupont.example"),
)
EU_BUYER = Party(
    name="Müller Maschinenbau GmbH",
    address=Address(line1="Hauptstraße 1", postcode="10115", city="Berlin", country_code="DE"),
    vat_id="DE136695976",
    electronic_address="DE136695976",
    electronic_address_scheme="9930",
)
NOTES = LegalNotes(
    late_penalty=(
        "En cas de retard de paiement, pénalités au taux de refinancement de la BCE "
        "majoré de 10 points, exigibles dès le lendemain de l'échéance."
    ),
    extra=(Note("REG", "SAS au capital de 50 000 € – RCS Paris 404 833 048"),),
)
ISSUE = dt.date(2026, 11, 30)


def line(
    line_id: str,
    quantity: str,
    price: str,
    rate: str = "20",
    category: str = "S",
    **kwargs: Any,
) -> InvoiceLine:
    return InvoiceLine(
        id=line_id,
        name=kwargs.pop("name", f"Prestation {line_id}"),
        quantity=D(quantity),
        unit_code=kwargs.pop("unit_code", "DAY"),
        net_price=D(price),
        vat_category=category,  # type: ignore[arg-type]
        vat_rate=D(rate),
        **kwargs,
    )


def invoice(*lines: InvoiceLine, **kwargs: Any) -> Invoice:
    defaults: dict[str, Any] = {
        "number": "F2026-000123",
        "issue_date": ISSUE,
        "seller": SELLER,
        "buyer": BUYER,
        "lines": lines,
        "payment": PaymentTerms(
            due_date=ISSUE + dt.timedelta(days=30),
            description="30 jours date de facture, par virement",
            iban="FR7630006000011234567890189",
            bic="AGRIFRPP",
            payment_reference="RF18539007547034",
        ),
        "notes": NOTES,
        "purchase_order": "PO-2026-0042",
        "buyer_reference": "SERVICE-ACHATS",
        "period_start": dt.date(2026, 11, 1),
        "period_end": dt.date(2026, 11, 30),
        "delivery_date": dt.date(2026, 11, 30),  # date of the service (CGI 242 nonies A 10°)
    }
    defaults.update(kwargs)
    return Invoice(**defaults)


def scenarios() -> dict[str, Invoice]:
    """One invoice per case the issue names: several rates, discount, exemption, AE, credit note."""
    return {
        "two_rates_with_discount": invoice(
            line("1", "12", "850", discount_percent=D("7.5"), discount_reason="Remise volume"),
            line("2", "1", "149.90", rate="10", unit_code="C62", name="Formation e-learning"),
            line("3", "3", "45.5", rate="5.5", unit_code="C62", name="Ouvrages"),
            delivery_address=Address(
                line1="Site de Vénissieux", postcode="69200", city="Vénissieux"
            ),
            delivery_date=dt.date(2026, 11, 28),
        ),
        "exempt_line": invoice(
            line("1", "10", "600", unit_code="HUR"),
            line(
                "2",
                "1",
                "1200",
                rate="0",
                category="E",
                unit_code="C62",
                name="Formation professionnelle continue",
                exemption_reason="Exonération de TVA, article 261-4-4° a du CGI",
                exemption_reason_code="VATEX-EU-132-1I",
            ),
        ),
        "reverse_charge_eu": invoice(
            line("1", "20", "750", rate="0", category="AE", name="Conseil en organisation"),
            line(
                "2", "1", "1500", rate="0", category="AE", unit_code="MON", name="Support mensuel"
            ),
            buyer=EU_BUYER,
            business_process="S1",
        ),
        "credit_note": invoice(
            line("1", "2", "850", name="Avoir : jours non consommés"),
            number="A2026-000007",
            type_code="381",
            preceding_invoices=(PrecedingInvoice("F2026-000123", dt.date(2026, 10, 31)),),
        ),
        "rounding_stress": invoice(
            line("1", "3", "33.335"),
            line("2", "3", "33.335"),
            line("3", "0.3333", "0.015", unit_code="HUR"),
            line("4", "7", "1.005", rate="2.1", unit_code="C62"),
            line("5", "1.5", "99.999999", rate="5.5", discount_percent=D("33.33")),
        ),
    }
