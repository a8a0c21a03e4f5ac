"""Indexes for the KPIs at 1,000,000 invoices (issue 5, bench/kpis.py), all read index-only:

- `open_items` gains the issue date and open amount: the ledger-wide aged balance today and
  the cash forecast's open items no longer visit the table;
- `settled_invoices`: invoices settled in a window (payment delay, the customers' delays of
  the forecast) and those settled after a past date (aged balance "as of");
- `invoices_issued_in_period`: sales, invoicing delay, credit-note, error and dispute rates;
- `lines_with_service_period`: the invoice lines with a service period ending after a date
  (PCA), instead of every line.

CREATE/DROP INDEX only: no table rebuild on SQLite, so the immutability triggers stay.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [("billing", "0008_open_amount")]

    operations = [
        migrations.RemoveIndex(
            model_name='invoice',
            name='open_items',
        ),
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(condition=models.Q(('kind', 'invoice'), ('status', 'issued'), models.Q(('open_amount', 0), _negated=True)), fields=['customer', 'due_date', 'issue_date', 'open_amount'], name='open_items'),
        ),
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(condition=models.Q(('kind', 'invoice'), ('status', 'issued')), fields=['settled_on', 'due_date', 'customer', 'total_gross'], name='settled_invoices'),
        ),
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(condition=models.Q(('kind', 'invoice'), ('status', 'issued')), fields=['issue_date', 'billable_on', 'total_net', 'total_gross', 'id'], name='invoices_issued_in_period'),
        ),
        migrations.AddIndex(
            model_name='invoiceline',
            index=models.Index(condition=models.Q(('period_start__isnull', False)), fields=['period_end'], name='lines_with_service_period'),
        ),
    ]
