"""Credit notes by the invoice they correct (bench/kpis.py, 1,000,000 invoices): the open
amount at a past date, AR from the facts and the invoice error rate read this small partial
index instead of scanning the table or the credited_invoice index (a NULL per invoice).
CREATE INDEX only: the SQLite triggers stay.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [("billing", "0009_kpi_indexes")]

    operations = [
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(condition=models.Q(('kind', 'credit_note'), ('status', 'issued')), fields=['credited_invoice', 'issue_date', 'credit_reason', 'total_gross'], name='credit_notes_by_invoice'),
        ),
    ]
