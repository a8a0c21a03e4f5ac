"""EN 16931 e-invoices (Factur-X / CII, UBL) built from a pure-Python invoice description.

No Django models here: the billing engine maps its invoices to :class:`Invoice`, then
:func:`to_cii_xml` serialises it and :func:`validate_cii` checks it offline.
"""

from levier.einvoice.cii import build_cii, to_cii_xml
from levier.einvoice.model import (
    Address,
    Contact,
    Invoice,
    InvoiceDataError,
    InvoiceLine,
    LegalNotes,
    Note,
    Party,
    PaymentTerms,
    PrecedingInvoice,
    Totals,
    VatBreakdown,
)

__all__ = [
    "Address",
    "Contact",
    "Invoice",
    "InvoiceDataError",
    "InvoiceLine",
    "LegalNotes",
    "Note",
    "Party",
    "PaymentTerms",
    "PrecedingInvoice",
    "Totals",
    "VatBreakdown",
    "build_cii",
    "to_cii_xml",
]
