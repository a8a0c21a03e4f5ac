"""Invoice open amounts, recomputed from what reduces them (kpis.md, "open amount").

open = total TTC − issued credit notes on it − allocations; the invoice is settled on the first
day the credit notes and payments received by then cover its total. Recomputing from the
facts, in one UPDATE per 500 invoices, rather than adding deltas, means a repeated or
concurrent call can never drift.
Callers hold the invoice rows locked (select_for_update) in their transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

from levier.billing.models import Invoice
from levier.collections.month_ends import refresh_month_end_items


def refresh_open_amounts(invoice_ids: Iterable[int]) -> None:
    ids = sorted(set(invoice_ids))
    if not ids:
        return
    q = connection.ops.quote_name
    table = q(Invoice._meta.db_table)
    credits = (
        f"SELECT {{agg}} FROM {table} c WHERE c.credited_invoice_id = {table}.id "
        "AND c.status = 'issued' AND c.kind = 'credit_note'"
    )
    allocations = (
        "SELECT {agg} FROM collections_allocation a "
        "JOIN collections_payment p ON p.id = a.payment_id "
        f"WHERE a.invoice_id = {table}.id"
    )
    # ROUND: SQLite computes decimals as binary floats (1200 - 1000 - 200 = -1.4e-14);
    # PostgreSQL's numeric is exact and ROUND(…, 2) leaves it unchanged.
    open_expr = (
        f"ROUND(total_gross - COALESCE(({credits.format(agg='SUM(c.total_gross)')}), 0) "
        f"- COALESCE(({allocations.format(agg='SUM(a.amount)')}), 0), 2)"
    )

    # Settled on the first day the credit notes and payments received so far cover the
    # total (kpis.md): the earliest event date at which the running sum reaches it. A
    # credit note issued after the payment (a goodwill gesture) does not move that day.
    def reduced_by(day: str) -> str:
        return (
            "ROUND(COALESCE((SELECT SUM(c2.total_gross) FROM "
            f"{table} c2 WHERE c2.credited_invoice_id = {table}.id AND c2.status = 'issued' "
            f"AND c2.kind = 'credit_note' AND c2.issue_date <= {day}), 0) + COALESCE(("
            "SELECT SUM(a2.amount) FROM collections_allocation a2 JOIN collections_payment p2 "
            f"ON p2.id = a2.payment_id WHERE a2.invoice_id = {table}.id "
            f"AND p2.received_on <= {day}), 0), 2)"
        )

    first_credit = (
        f"(SELECT MIN(c.issue_date) FROM {table} c WHERE c.credited_invoice_id = {table}.id "
        "AND c.status = 'issued' AND c.kind = 'credit_note' "
        f"AND {reduced_by('c.issue_date')} >= {table}.total_gross)"
    )
    first_payment = (
        "(SELECT MIN(p.received_on) FROM collections_allocation a "
        "JOIN collections_payment p ON p.id = a.payment_id "
        f"WHERE a.invoice_id = {table}.id AND {reduced_by('p.received_on')} >= {table}.total_gross)"
    )
    least = "LEAST" if connection.vendor == "postgresql" else "MIN"
    settled = (
        f"CASE WHEN {open_expr} <= 0 THEN {least}("
        f"COALESCE({first_credit}, {first_payment}), COALESCE({first_payment}, {first_credit})) "
        "END"
    )
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join(["%s"] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET open_amount = {open_expr}, settled_on = {settled} "
                f"WHERE id IN ({marks}) AND status = 'issued' AND kind = 'invoice'",
                chunk,
            )
    # The open items stored at month ends follow (from the settled dates just written).
    refresh_month_end_items(ids)
