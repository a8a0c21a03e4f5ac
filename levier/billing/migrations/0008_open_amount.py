"""Invoices keep their open amount; existing issued ones get it from their credit notes.

Both columns are nullable, so SQLite adds them with ALTER TABLE (no table rebuild, which
would drop the immutability triggers); neither is a legal column the triggers guard.
"""

from django.conf import settings
from django.db import migrations, models


def backfill_open_amounts(apps, schema_editor):  # type: ignore[no-untyped-def]
    invoice = apps.get_model("billing", "Invoice")
    issued = invoice.objects.filter(status="issued")
    issued.filter(kind="credit_note").update(open_amount=0)
    credits: dict[int, tuple] = {}
    for row in issued.filter(kind="credit_note").values(
        "credited_invoice_id", "total_gross", "issue_date"
    ):
        total, last = credits.get(row["credited_invoice_id"], (0, None))
        day = row["issue_date"] if last is None or row["issue_date"] > last else last
        credits[row["credited_invoice_id"]] = (total + row["total_gross"], day)
    for pk, gross in issued.filter(kind="invoice").values_list("pk", "total_gross"):
        credited, last = credits.get(pk, (0, None))
        open_amount = gross - credited
        invoice.objects.filter(pk=pk).update(
            open_amount=open_amount, settled_on=last if open_amount <= 0 else None
        )


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0007_invoicedispatch'),
        ('contracts', '0003_contract_late_interest_rate'),
        ('customers', '0003_customer_invoice_email'),
        ('sales', '0002_order_last_edited_by_order_submitted_by_and_more'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='invoice',
            name='open_amount',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=14, null=True),
        ),
        migrations.AddField(
            model_name='invoice',
            name='settled_on',
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name='invoice',
            index=models.Index(condition=models.Q(('kind', 'invoice'), ('status', 'issued'), models.Q(('open_amount', 0), _negated=True)), fields=['customer', 'due_date'], name='open_items'),
        ),
        migrations.RunPython(backfill_open_amounts, migrations.RunPython.noop),
    ]
