"""The names kpis.md gives the figures in JSON, written once for the tests that check them.

Kept apart from the code that produces them, so that a renamed field fails those tests
instead of silently renaming the contract.
"""

from __future__ import annotations

# kpis.md, "Names in JSON": what `levier kpis --json` and the audit of Levier's data print.
LEVIER_NAMES = frozenset(
    {
        "as_of",
        "period_days",
        "receivables_ttc",
        "sales_ttc_period",
        "dso_simple",
        "dso_countback",
        "invoicing_delay_days",
        "invoicing_delay_days_weighted",
        "credit_note_rate",
        "credit_note_rate_amount",
        "invoice_error_rate",
        "fae",
        "pca",
        "dispute_rate",
        "dispute_resolution_days",
        "open_disputes_count",
        "open_disputes_amount",
        "aged_balance",
        "overdue_ratio",
        "average_payment_delay_days",
        "average_payment_delay_days_weighted",
        "cei",
        "order_validation_hours_median",
        "order_validation_hours_p90",
        "cash_forecast",
    }
)

# kpis.md, "From a FEC file": the figures of an audited FEC, under `kpis`.
FEC_NAMES = frozenset(
    {
        "receivables_ttc",
        "sales_ttc_365d",
        "sales_ttc_90d",
        "dso_simple_90d",
        "dso_simple_365d",
        "dso_countback",
        "invoice_count",
        "credit_note_count",
        "credit_note_rate",
        "credit_note_rate_amount",
        "average_days_to_pay",
        "average_days_to_pay_weighted",
        "open_invoices_aged",
        "fae",
        "pca",
        "top_customers_receivables",
    }
)
