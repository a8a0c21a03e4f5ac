"""The contract archive: signed contracts and amendments kept ten years, provably unaltered.

Commercial contracts and the documents backing the accounts must be kept ten years
(C. com. L110-4 and L123-22), and a copy is only worth something in a dispute if one can
show it is the document that was signed. So:

- only PDFs are archived (the format the signed documents come in, and one that renders
  the same in ten years);
- the bytes are stored under their SHA-256 (``ARCHIVE_DIR/ab/abcdef….pdf``): a file's
  name says what its content must be, identical documents are stored once, and nothing
  ever writes to an existing name other than the same bytes;
- the database row (`ArchivedDocument`) keeps the hash, and neither the model nor the
  database (triggers, migration 0002) lets it change or go;
- reading re-hashes the bytes, so a file altered on disk (bit rot, a restore gone wrong,
  someone "fixing" a PDF) is reported, never served as if it were the original.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from babel.numbers import format_decimal
from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from levier.accounts.permissions import Action, require
from levier.audit.choices import Verb
from levier.audit.services import record_event
from levier.billing.company import legal_footer
from levier.billing.models import CompanyProfile
from levier.catalog.choices import InvoicingMode, Unit
from levier.contracts.choices import ArchiveKind, Frequency, MilestoneTrigger
from levier.contracts.models import Amendment, ArchivedDocument, Contract, ContractLine
from levier.lib.errors import ValidationFailed
from levier.lib.periods import add_months

if TYPE_CHECKING:
    from levier.accounts.models import User

logger = logging.getLogger(__name__)

PDF_MAGIC = b"%PDF-"
CONTENT_TYPE = "application/pdf"
MAX_BYTES = 20 * 1024 * 1024
RETENTION_YEARS = 10
TEMPLATE = "contracts/pdf/contract.html"
_FILENAME_MAX = 200  # ArchivedDocument.filename


class ArchiveCorrupted(Exception):
    """An archived file is missing or its bytes no longer have the hash recorded at archiving.

    Not a DomainError: nothing the user did is wrong, the archive is, and it must be
    restored from a backup; the web layer should let it surface as a server error.
    """

    def __init__(self, document: ArchivedDocument, path: Path, actual: str | None) -> None:
        self.document = document
        self.path = path
        self.expected = document.sha256
        self.actual = actual  # None: the file is missing
        if actual is None:
            message = _(
                "Archived document %(name)s (#%(id)s) is missing: no file %(path)s "
                "(expected SHA-256 %(expected)s)"
            )
        else:
            message = _(
                "Archived document %(name)s (#%(id)s) was altered: %(path)s has SHA-256 "
                "%(actual)s, %(expected)s was recorded when it was archived"
            )
        super().__init__(
            message
            % {
                "name": document.filename,
                "id": document.pk,
                "path": path,
                "expected": self.expected,
                "actual": actual,
            }
        )


def archive_path(sha256: str) -> Path:
    """Where the bytes with this hash live (two-character folders keep directories small)."""
    return Path(settings.ARCHIVE_DIR) / sha256[:2] / f"{sha256}.pdf"


def retention_end(archived_on: dt.date) -> dt.date:
    """Ten years after `archived_on`, the same day of the month.

    29 February gives 28 February ten years later (when that year is not a leap year): a
    period in years ends on the day with the same number, or failing one on the month's
    last day (CPC art. 641).
    """
    return add_months(archived_on, 12 * RETENTION_YEARS)


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors={field: [message]})


def _clean_filename(filename: str, sha256: str) -> str:
    """The name shown to users: no folders (a browser may send a full path), at most 200."""
    name = Path(filename.replace("\\", "/")).name.strip() or f"{sha256[:12]}.pdf"
    if len(name) <= _FILENAME_MAX:
        return name
    stem, dot, ext = name.rpartition(".")
    if dot and len(ext) <= 10:
        return f"{stem[: _FILENAME_MAX - len(ext) - 1]}.{ext}"
    return name[:_FILENAME_MAX]


def _file_sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable: the new directory entry reaches the disk, not only the data."""
    if os.name != "posix":  # pragma: no cover - Levier runs on Linux
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _store(data: bytes, sha256: str) -> Path:
    """Write the bytes under their hash, atomically, unless they are already there.

    A temporary file in the same folder, flushed to disk, then renamed: a crash leaves
    either no file or the whole file, never a truncated one with the right name. A file
    already there with the right hash is kept as it is (same content, nothing to do); one
    with another hash is damaged, and the bytes that belong under that name replace it.
    """
    path = archive_path(sha256)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    if path.exists():
        found = _file_sha256(path)
        if found == sha256:
            return path
        logger.error("archive file %s had SHA-256 %s; rewriting it with its content", path, found)
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{sha256[:12]}-", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.chmod(0o444)  # read-only: a slip of `open(path, "w")` fails instead of altering
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(folder)
    return path


def archive_document(
    *,
    actor: User,
    contract: Contract,
    data: bytes,
    filename: str,
    kind: str,
    amendment: Amendment | None = None,
) -> ArchivedDocument:
    """Archive a contractual PDF for ten years and record who archived it.

    The file is written (durably) before the row is inserted: should the transaction then
    fail, an unreferenced file remains, which is harmless (archiving the same bytes again
    reuses it); the other order could leave a row pointing at nothing. The transaction
    only covers the row and its audit event, so no database lock is held while 20 MB are
    hashed and synced.
    """
    require(actor, Action.ARCHIVE_DOCUMENT)
    shown = Path(filename.replace("\\", "/")).name.strip() or "?"
    if not data:
        raise _fail("file", _("%(file)s is empty") % {"file": shown})
    if len(data) > MAX_BYTES:
        raise _fail(
            "file",
            _("%(file)s is larger than %(max)s MB: %(size)s MB")
            % {
                "file": shown,
                "max": MAX_BYTES // (1024 * 1024),
                "size": format_decimal(
                    Decimal(len(data)) / (1024 * 1024), format="#,##0.0", locale="fr_FR"
                ),
            },
        )
    if not data.startswith(PDF_MAGIC):
        raise _fail(
            "file", _("%(file)s is not a PDF: only PDF files are archived") % {"file": shown}
        )
    if kind not in ArchiveKind.values:
        raise _fail("kind", _("unknown kind of document “%(kind)s”") % {"kind": kind})
    if amendment is not None and amendment.contract_id != contract.pk:
        raise _fail(
            "amendment",
            _("amendment %(number)s belongs to another contract than %(contract)s")
            % {"number": amendment.number, "contract": contract.number},
        )
    if kind == ArchiveKind.SIGNED_AMENDMENT and amendment is None:
        raise _fail("amendment", _("a signed amendment is archived with the amendment it signs"))
    sha256 = hashlib.sha256(data).hexdigest()
    _store(data, sha256)
    archived_at = timezone.now()
    with transaction.atomic():
        document = ArchivedDocument.objects.create(
            contract=contract,
            amendment=amendment,
            kind=kind,
            filename=_clean_filename(filename, sha256),
            content_type=CONTENT_TYPE,
            size=len(data),
            sha256=sha256,
            archived_at=archived_at,
            archived_by=actor,
            retain_until=retention_end(timezone.localdate(archived_at)),
        )
        record_event(
            actor=actor,
            verb=Verb.CREATE,
            instance=document,
            changes={
                "contract": contract.number,
                "amendment": amendment.number if amendment else None,
                "kind": kind,
                "filename": document.filename,
                "size": document.size,
                "sha256": sha256,
                "retain_until": document.retain_until,
            },
        )
    return document


def read_archived(document: ArchivedDocument) -> bytes:
    """The archived bytes, checked against the recorded hash (ArchiveCorrupted otherwise)."""
    path = archive_path(document.sha256)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ArchiveCorrupted(document, path, None) from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != document.sha256:
        raise ArchiveCorrupted(document, path, actual)
    return data


def verify_archive() -> list[str]:
    """Every archived document whose file is missing or altered, one message each.

    Each file is hashed once however many rows share it. Meant for a scheduled check: an
    empty list is the proof that the archive is intact today.
    """
    problems: list[str] = []
    hashes: dict[str, str | None] = {}
    for document in ArchivedDocument.objects.order_by("pk").iterator():
        path = archive_path(document.sha256)
        if document.sha256 not in hashes:
            try:
                hashes[document.sha256] = _file_sha256(path)
            except FileNotFoundError:
                hashes[document.sha256] = None
        actual = hashes[document.sha256]
        if actual != document.sha256:
            problems.append(str(ArchiveCorrupted(document, path, actual)))
    return problems


# ---------------------------------------------------------------------------------------
# The contract summary generated by Levier


def _refuse_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """The PDF is built from the template alone: no URL is ever fetched while rendering."""
    raise ValueError(f"external resource refused in an archived document: {url}")


def _fr_number(value: Decimal, pattern: str = "#,##0.##") -> str:
    return format_decimal(value, format=pattern, locale="fr_FR", decimal_quantization=False)


def _fr_date(value: dt.date | None) -> str:
    return f"{value:%d/%m/%Y}" if value else ""


def _months(n: int) -> str:
    return f"{n} mois"


@dataclass(frozen=True)
class _PrintedMilestone:
    label: str
    share: str
    trigger: str
    planned_on: str


@dataclass(frozen=True)
class _PrintedLine:
    position: int
    description: str
    mode: str
    schedule: str
    quantity: str
    unit: str
    unit_price: str
    discount: str
    vat_rate: str
    period: str
    revisable: bool
    milestones: tuple[_PrintedMilestone, ...]


# The document is French whatever the user's language: its wording is the contract's, so it
# is written here rather than left to the translation catalogue.
_MODES: dict[str, str] = {
    InvoicingMode.ON_ORDER: "À la commande",
    InvoicingMode.ON_DELIVERY: "À la livraison",
    InvoicingMode.MILESTONES: "Échéancier",
    InvoicingMode.RECURRING: "Abonnement",
    InvoicingMode.TIME_AND_MATERIALS: "Régie (temps passé)",
}
_FREQUENCIES: dict[str, str] = {
    Frequency.MONTHLY: "mensuelle",
    Frequency.QUARTERLY: "trimestrielle",
    Frequency.YEARLY: "annuelle",
}
_TRIGGERS: dict[str, str] = {
    MilestoneTrigger.SIGNATURE: "à la signature",
    MilestoneTrigger.DELIVERY: "à la livraison",
    MilestoneTrigger.ACCEPTANCE: "à la recette",
    MilestoneTrigger.DATE: "à date",
}
_UNITS: dict[str, str] = {
    Unit.HOUR: "heure",
    Unit.DAY: "jour",
    Unit.MONTH: "mois",
    Unit.YEAR: "an",
    Unit.UNIT: "unité",
    Unit.FLAT: "forfait",
}


def _schedule(line: ContractLine) -> str:
    """When the line is invoiced, in the words of a contract."""
    if line.mode == InvoicingMode.RECURRING:
        frequency = _FREQUENCIES.get(line.frequency, line.frequency)
        timing = "terme à échoir" if line.in_advance else "terme échu"
        return f"Facturation {frequency}, {timing}"
    if line.mode == InvoicingMode.TIME_AND_MATERIALS:
        return "Facturation mensuelle du temps passé, à mois échu"
    if line.mode == InvoicingMode.ON_DELIVERY:
        return "Facturation à la livraison ou à la recette"
    if line.mode == InvoicingMode.ON_ORDER:
        return "Facturation à la signature"
    return "Facturation selon l'échéancier ci-dessous"


def _printed_line(line: ContractLine) -> _PrintedLine:
    start, end = line.start_date, line.end_date
    period = " ".join(
        part
        for part in (
            f"du {_fr_date(start)}" if start else "",
            f"au {_fr_date(end)}" if end else "",
        )
        if part
    )
    return _PrintedLine(
        position=line.position,
        description=line.description,
        mode=_MODES.get(line.mode, line.mode),
        schedule=_schedule(line),
        quantity=_fr_number(line.quantity, "#,##0.###"),
        unit=_UNITS.get(line.unit, line.unit),
        unit_price=_fr_number(line.unit_price, "#,##0.00##") + " €",
        discount=_fr_number(line.discount_percent) + " %" if line.discount_percent else "",
        vat_rate=_fr_number(line.vat_rate) + " %",
        period=period,
        # Only recurring and T&M prices are revised on anniversaries (contracts.schedule).
        revisable=line.revisable
        and line.mode in (InvoicingMode.RECURRING, InvoicingMode.TIME_AND_MATERIALS),
        milestones=tuple(
            _PrintedMilestone(
                label=m.label,
                share=(
                    _fr_number(m.percent, "#,##0.###") + " %"
                    if m.percent is not None
                    else _fr_number(m.amount or Decimal(0), "#,##0.00") + " € HT"
                ),
                trigger=_TRIGGERS.get(m.trigger, m.trigger),
                planned_on=_fr_date(m.planned_on),
            )
            for m in line.milestones.all()
        ),
    )


def _term_clause(contract: Contract) -> list[str]:
    """Duration, tacit renewal and notice, as the contract states them."""
    clauses = [f"Le contrat prend effet le {_fr_date(contract.start_date)}."]
    if contract.initial_term_months:
        clauses.append(
            f"Il est conclu pour une durée initiale de {_months(contract.initial_term_months)}."
        )
    if contract.tacit_renewal:
        term = contract.renewal_term_months or contract.initial_term_months or 12
        clauses.append(
            "À l'issue de cette durée, il se renouvelle par tacite reconduction pour des "
            f"périodes successives de {_months(term)}, sauf dénonciation par l'une des parties "
            "notifiée par lettre recommandée avec accusé de réception au moins "
            f"{_months(contract.notice_months)} avant l'échéance en cours."
        )
    elif contract.end_date:
        clauses.append(f"Il prend fin le {_fr_date(contract.end_date)}.")
    else:
        clauses.append("Il est conclu pour une durée indéterminée.")
        if contract.notice_months:
            clauses.append(
                "Chaque partie peut y mettre fin moyennant un préavis de "
                f"{_months(contract.notice_months)} notifié par lettre recommandée avec accusé "
                "de réception."
            )
    if contract.notice_given_on:
        clauses.append(
            f"Préavis donné le {_fr_date(contract.notice_given_on)} ; "
            f"fin du contrat le {_fr_date(contract.end_date)}."
        )
    return clauses


def _address(line1: str, line2: str, postcode: str, city: str) -> list[str]:
    return [part for part in (line1, line2, f"{postcode} {city}".strip()) if part]


def _revision_clause(contract: Contract) -> dict[str, Any] | None:
    series = contract.index_series
    if series is None:
        return None
    a = contract.revision_fixed_part
    return {
        "index": series.name,
        "a": _fr_number(a),
        "b": _fr_number(Decimal(1) - a),
        "base_month": f"{contract.base_index_month:%m/%Y}" if contract.base_index_month else "",
        "floor": _fr_number(contract.revision_floor) if contract.revision_floor else "",
        "cap": _fr_number(contract.revision_cap) if contract.revision_cap else "",
        "lag": series.publication_lag_months,
    }


def contract_html(contract: Contract) -> str:
    """The contract summary as self-contained HTML (inline CSS, no image, no link)."""
    contract = (
        Contract.objects.select_related("customer", "index_series", "order")
        .prefetch_related("lines__milestones")
        .get(pk=contract.pk)
    )
    # Read only: generating a document must not create the company profile on the way.
    seller = CompanyProfile.objects.filter(pk=1).first() or CompanyProfile()
    customer = contract.customer
    context = {
        "contract": contract,
        "seller": seller,
        "seller_identity": legal_footer(seller) if seller.legal_name else "",
        "seller_address": _address(
            seller.address_line1, seller.address_line2, seller.postcode, seller.city
        ),
        "customer": customer,
        "customer_address": _address(
            customer.address_line1, customer.address_line2, customer.postcode, customer.city
        ),
        "signed_on": _fr_date(contract.signed_on),
        "start_date": _fr_date(contract.start_date),
        "end_date": _fr_date(contract.end_date),
        "term_clauses": _term_clause(contract),
        "revision": _revision_clause(contract),
        "lines": [_printed_line(line) for line in contract.lines.all()],
        "generated_on": _fr_date(timezone.localdate()),
    }
    with translation.override("fr"):
        return render_to_string(TEMPLATE, context)


def generate_contract_pdf(contract: Contract) -> bytes:
    """The French contract summary as a PDF (parties, terms, revision clause, lines)."""
    from weasyprint import HTML  # heavy import (Pango, fonts): only where PDFs are made

    html = contract_html(contract)
    return bytes(HTML(string=html, base_url=None, url_fetcher=_refuse_fetch).write_pdf())


def archive_generated_contract(*, actor: User, contract: Contract) -> ArchivedDocument:
    """Generate the contract summary as it stands and archive it (kind GENERATED).

    After amendments it is linked to the last one: it shows the contract as that
    amendment left it.
    """
    require(actor, Action.ARCHIVE_DOCUMENT)
    pdf = generate_contract_pdf(contract)
    amendment = contract.amendments.order_by("-number").first()
    suffix = f"-avenant-{amendment.number}" if amendment else ""
    return archive_document(
        actor=actor,
        contract=contract,
        data=pdf,
        filename=f"{contract.number}{suffix}.pdf",
        kind=ArchiveKind.GENERATED,
        amendment=amendment,
    )
