"""Database-level immutability of issued documents, and the default numbering series.

The triggers refuse, for an invoice or credit note whose stored status is 'issued':
- any UPDATE that changes a legal field (everything but `notes` and `updated_at`);
- any DELETE;
- any INSERT, UPDATE or DELETE of its lines.
They guard against code paths that bypass the model (raw SQL, queryset.update, admin).
On SQLite a test database is flushed with DELETE: tests that issue invoices must therefore
run inside a transaction (pytest-django's default), never with transaction=True.
"""

from django.db import migrations

LEGAL_COLUMNS = [
    "kind", "status", "series_id", "number", "customer_id", "order_id", "credited_invoice_id",
    "credit_reason", "issue_date", "due_date", "billable_on", "service_date",
    "payment_terms_days", "payment_terms_basis", "po_number", "nature_of_operations",
    "vat_on_debits", "buyer_name", "buyer_siren", "buyer_vat_number", "buyer_address",
    "delivery_address", "currency", "total_net", "total_vat", "total_gross", "chain_index",
    "previous_hash", "content_hash", "issued_at", "issued_by_id", "created_by_id",
]
MESSAGE = "issued invoices are immutable: correct them with a credit note"


def _sqlite_sql() -> tuple[list[str], list[str]]:
    changed = " OR ".join(f'NEW."{c}" IS NOT OLD."{c}"' for c in LEGAL_COLUMNS)
    issued_line = (
        "(SELECT status FROM billing_invoice WHERE id = {ref}.invoice_id) = 'issued'"
    )
    forward = [
        f"""CREATE TRIGGER billing_invoice_issued_update BEFORE UPDATE ON billing_invoice
        WHEN OLD.status = 'issued' AND ({changed})
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;""",
        f"""CREATE TRIGGER billing_invoice_issued_delete BEFORE DELETE ON billing_invoice
        WHEN OLD.status = 'issued'
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;""",
        f"""CREATE TRIGGER billing_line_issued_insert BEFORE INSERT ON billing_invoiceline
        WHEN {issued_line.format(ref="NEW")}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;""",
        f"""CREATE TRIGGER billing_line_issued_update BEFORE UPDATE ON billing_invoiceline
        WHEN {issued_line.format(ref="OLD")} OR {issued_line.format(ref="NEW")}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;""",
        f"""CREATE TRIGGER billing_line_issued_delete BEFORE DELETE ON billing_invoiceline
        WHEN {issued_line.format(ref="OLD")}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;""",
    ]
    backward = [
        f"DROP TRIGGER IF EXISTS {name};"
        for name in (
            "billing_invoice_issued_update", "billing_invoice_issued_delete",
            "billing_line_issued_insert", "billing_line_issued_update", "billing_line_issued_delete",
        )
    ]
    return forward, backward


def _postgres_sql() -> tuple[list[str], list[str]]:
    changed = " OR ".join(f'NEW."{c}" IS DISTINCT FROM OLD."{c}"' for c in LEGAL_COLUMNS)
    forward = [
        f"""CREATE FUNCTION billing_invoice_immutable() RETURNS trigger AS $$
        BEGIN
          IF TG_OP = 'DELETE' THEN
            IF OLD.status = 'issued' THEN RAISE EXCEPTION '{MESSAGE}'; END IF;
            RETURN OLD;
          END IF;
          IF OLD.status = 'issued' AND ({changed}) THEN
            RAISE EXCEPTION '{MESSAGE}';
          END IF;
          RETURN NEW;
        END $$ LANGUAGE plpgsql;""",
        """CREATE TRIGGER billing_invoice_immutable BEFORE UPDATE OR DELETE ON billing_invoice
        FOR EACH ROW EXECUTE FUNCTION billing_invoice_immutable();""",
        f"""CREATE FUNCTION billing_line_immutable() RETURNS trigger AS $$
        BEGIN
          IF TG_OP IN ('UPDATE', 'DELETE') AND EXISTS (
              SELECT 1 FROM billing_invoice WHERE id = OLD.invoice_id AND status = 'issued') THEN
            RAISE EXCEPTION '{MESSAGE}';
          END IF;
          IF TG_OP IN ('INSERT', 'UPDATE') AND EXISTS (
              SELECT 1 FROM billing_invoice WHERE id = NEW.invoice_id AND status = 'issued') THEN
            RAISE EXCEPTION '{MESSAGE}';
          END IF;
          IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
          RETURN NEW;
        END $$ LANGUAGE plpgsql;""",
        """CREATE TRIGGER billing_line_immutable BEFORE INSERT OR UPDATE OR DELETE
        ON billing_invoiceline FOR EACH ROW EXECUTE FUNCTION billing_line_immutable();""",
    ]
    backward = [
        "DROP TRIGGER IF EXISTS billing_line_immutable ON billing_invoiceline;",
        "DROP FUNCTION IF EXISTS billing_line_immutable();",
        "DROP TRIGGER IF EXISTS billing_invoice_immutable ON billing_invoice;",
        "DROP FUNCTION IF EXISTS billing_invoice_immutable();",
    ]
    return forward, backward


def install_triggers(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        forward, _ = _sqlite_sql()
    elif vendor == "postgresql":
        forward, _ = _postgres_sql()
    else:  # pragma: no cover - Levier supports SQLite and PostgreSQL only
        raise RuntimeError(f"no immutability triggers for {vendor}")
    for statement in forward:
        schema_editor.execute(statement)


def remove_triggers(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    _, backward = _sqlite_sql() if vendor == "sqlite" else _postgres_sql()
    for statement in backward:
        schema_editor.execute(statement)


def default_series(apps, schema_editor):  # type: ignore[no-untyped-def]
    series = apps.get_model("billing", "NumberingSeries")
    series.objects.get_or_create(
        code="F", defaults={"kind": "invoice", "pattern": "F{year}-{seq}", "is_default": True}
    )
    series.objects.get_or_create(
        code="AV", defaults={"kind": "credit_note", "pattern": "AV{year}-{seq}", "is_default": True}
    )
    apps.get_model("billing", "ChainHead").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [
        migrations.RunPython(install_triggers, remove_triggers),
        migrations.RunPython(default_series, migrations.RunPython.noop),
    ]
