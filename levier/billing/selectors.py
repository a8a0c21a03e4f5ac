from collections.abc import Iterator

from levier.billing.choices import InvoiceStatus
from levier.billing.models import Invoice, InvoiceLine


def issued_in_chain_order(batch: int = 2000) -> Iterator[tuple[Invoice, list[InvoiceLine]]]:
    """Every issued document with its lines, in chain order, a batch at a time."""
    last = 0
    while True:
        documents = list(
            Invoice.objects.filter(status=InvoiceStatus.ISSUED, chain_index__gt=last).order_by(
                "chain_index"
            )[:batch]
        )
        if not documents:
            return
        lines: dict[int, list[InvoiceLine]] = {d.pk: [] for d in documents}
        for line in InvoiceLine.objects.filter(invoice_id__in=list(lines)).order_by(
            "invoice_id", "position", "id"
        ):
            lines[line.invoice_id].append(line)
        for document in documents:
            yield document, lines[document.pk]
        last = documents[-1].chain_index or last
