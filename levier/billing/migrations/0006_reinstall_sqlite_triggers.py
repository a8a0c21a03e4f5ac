"""Reinstall the immutability triggers on SQLite after 0004 rebuilt the billing tables.

SQLite cannot add a foreign key or a conditional unique constraint in place: Django copies
the table into a new one, and the triggers of the old table go with it. Any later
migration that alters `billing_invoice` or `billing_invoiceline` must end the same way.
PostgreSQL keeps triggers across ALTER TABLE: nothing to do there.
"""

from importlib import import_module

from django.db import migrations

TRIGGERS = import_module("levier.billing.migrations.0002_immutability_triggers_and_default_series")


def reinstall(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "sqlite":
        return
    forward, backward = TRIGGERS._sqlite_sql()
    for statement in [*backward, *forward]:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("billing", "0005_billing_run")]

    operations = [migrations.RunPython(reinstall, migrations.RunPython.noop)]
