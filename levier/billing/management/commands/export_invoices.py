"""`levier export-invoices`: every issued invoice and credit note as files named by number.

For the accountant, an archive, or a platform that takes files: one file per document,
F2026-000123.pdf or .xml. Documents are read in chunks with their lines prefetched and the
credited invoice joined, and the company profile once, so the number of queries does not
grow with the number of documents (one per chunk plus one for its lines).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from levier.billing import documents
from levier.billing.choices import DocumentKind, InvoiceStatus
from levier.billing.company import company_profile
from levier.billing.models import CompanyProfile, Invoice
from levier.einvoice.model import InvoiceDataError

Renderer = Callable[..., bytes]

#: format → (file extension, renderer taking the document and ``profile=``)
FORMATS: dict[str, tuple[str, Renderer]] = {
    "facturx": ("pdf", documents.facturx_pdf),
    "pdf": ("pdf", documents.invoice_pdf),
    "cii": ("xml", documents.cii_xml),
    "ubl": ("xml", documents.ubl_xml),
}
CHUNK = 200


def issued_documents(since: dt.date | None = None) -> Iterator[Invoice]:
    """Issued invoices and credit notes by issue date then number, streamed in chunks."""
    documents_ = (
        Invoice.objects.filter(status=InvoiceStatus.ISSUED)
        .select_related("credited_invoice")
        .prefetch_related("lines")
        .order_by("issue_date", "number")
    )
    if since is not None:
        documents_ = documents_.filter(issue_date__gte=since)
    return documents_.iterator(chunk_size=CHUNK)


def _since(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(
            _("--since: “%(value)s” is not a date in the YYYY-MM-DD format") % {"value": value}
        ) from None


def _output_dir(value: str) -> Path:
    """The directory, created if needed; refused unless a file can be written in it."""
    out = Path(value).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".levier-export-"):
            pass
    except OSError as exc:
        raise CommandError(
            _("--out: cannot write to “%(path)s” (%(reason)s)")
            % {"path": value, "reason": exc.strerror or exc}
        ) from None
    return out


class Command(BaseCommand):
    help = (
        "Write each issued invoice and credit note to a file named by its number "
        "(Factur-X PDF, plain PDF, CII or UBL XML)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", required=True, help="facturx, pdf, cii or ubl")
        parser.add_argument("--out", required=True, help="directory to write to (created)")
        parser.add_argument("--since", help="only documents issued on or after YYYY-MM-DD")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["format"]
        if name not in FORMATS:
            raise CommandError(
                _("--format: unknown format “%(value)s” (choose from %(choices)s)")
                % {"value": name, "choices": ", ".join(FORMATS)}
            )
        ext, render = FORMATS[name]
        since = _since(options["since"]) if options["since"] else None
        out = _output_dir(options["out"])
        profile: CompanyProfile = company_profile()
        counts: Counter[str] = Counter()
        failed: list[str] = []
        for invoice in issued_documents(since):
            path = out / documents.document_filename(invoice, ext)
            try:
                content = render(invoice, profile=profile)
            except InvoiceDataError as exc:
                # one document the EN 16931 model refuses must not stop the whole export
                failed.append(f"{invoice.number}: {exc}")
                continue
            path.write_bytes(content)
            counts[invoice.kind] += 1
            if options["verbosity"] >= 2:
                self.stdout.write(str(path))
        self.stdout.write(
            _(
                "%(invoices)d invoice(s) and %(notes)d credit note(s) written to %(out)s (%(format)s)"
            )
            % {
                "invoices": counts[DocumentKind.INVOICE],
                "notes": counts[DocumentKind.CREDIT_NOTE],
                "out": out,
                "format": name,
            }
        )
        if failed:
            for line in failed:
                self.stderr.write(line)
            raise CommandError(
                _("%(count)d document(s) could not be exported") % {"count": len(failed)},
                returncode=1,
            )
