"""Invoice open amounts, recomputed from what reduces them (kpis.md, "open amount").

open = total TTC − issued credit notes on it − allocations; the invoice is settled on the
latest date among those when open ≤ 0. Recomputing from the facts, in one UPDATE per 500
invoices, rather than adding deltas, means a repeated or concurrent call can never drift.
Callers hold the invoice rows locked (select_for_update) in their transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

from levier.billing.models import Invoice


def refresh_open_amounts(invoice_ids: Iterable[int]) -> None:
    ids = sorted(set(invoice_ids))
    if not ids:
        return
    q = connection.ops.quote_name
    table = q(Invoice._meta.db_table)
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
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
    last_credit = f"({credits.format(agg='MAX(c.issue_date)')})"
    last_payment = f"({allocations.format(agg='MAX(p.received_on)')})"
    settled = (
        f"CASE WHEN {open_expr} <= 0 THEN {greatest}("
        f"COALESCE({last_credit}, {last_payment}), COALESCE({last_payment}, {last_credit})) "
        "END"
    )
    if connection.vendor == "postgresql":
        # The correlated subqueries make the planner JIT-compile each 500-row UPDATE
        # (about 1 s, for 50 ms of work); off for the rest of this transaction only.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join(["%s"] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET open_amount = {open_expr}, settled_on = {settled} "
                f"WHERE id IN ({marks}) AND status = 'issued' AND kind = 'invoice'",
                chunk,
            )
