"""Each invoice line carries its document's issue date (`issued_on`), stamped by the database.

What was invoiced by a date (the cut-off's billing keys, its PCA lines) then reads the lines
alone: joined to a million invoices to learn their issue dates, those queries cost 0.2 to
0.3 s each at a past date (bench/kpis.py); on the lines' own indexes, 0.03 s.

Kept exact by the database, not by whoever issues:

- `billing_invoice_stamps_lines`: when an invoice or credit note becomes issued, its lines
  get its issue date, in the same statement;
- the immutability trigger on lines lets that stamp through, and nothing else, on an issued
  document's lines (issued_on from NULL to the document's issue date, every other column
  unchanged);
- a line can carry an issue date only if its document is issued on that date: a draft's
  lines stay NULL, whatever writes them.

Existing issued lines are stamped here, with the line trigger set aside for that UPDATE.

On SQLite the column is added in place (ALTER TABLE ADD COLUMN: nullable, no default), so
the triggers of 0002/0006 stay; those on lines are replaced by this migration's. A later
migration that rebuilds `billing_invoice` or `billing_invoiceline` on SQLite must reinstall
`sqlite_triggers()` from this module (it includes 0002's invoice triggers).
"""

from importlib import import_module

from django.db import migrations, models

BASE = import_module("levier.billing.migrations.0002_immutability_triggers_and_default_series")
MESSAGE = BASE.MESSAGE
STAMP_MESSAGE = "an invoice line carries the issue date of its document only once that is issued"

_OWN_NAMES = (  # besides 0002's line triggers, replaced under the same names
    "billing_line_stamp_insert",
    "billing_line_stamp_update",
    "billing_invoice_stamps_lines",
)


def _line_columns(apps) -> list[str]:  # type: ignore[no-untyped-def]
    """Every column of a line but the stamp, as the model stands at this migration."""
    line = apps.get_model("billing", "InvoiceLine")
    return [f.column for f in line._meta.concrete_fields if f.column != "issued_on"]


def _own_sqlite_triggers(columns: list[str]) -> list[str]:
    """This migration's triggers: the lines' immutability with the stamp let through, the
    stamp's guards, and the stamp itself."""
    issued = "(SELECT status FROM billing_invoice WHERE id = {ref}.invoice_id) = 'issued'"
    issued_on_date = (
        "EXISTS (SELECT 1 FROM billing_invoice WHERE id = NEW.invoice_id "
        "AND status = 'issued' AND issue_date = NEW.issued_on)"
    )
    unchanged = " AND ".join(f'NEW."{c}" IS OLD."{c}"' for c in columns)
    stamp = f"(OLD.issued_on IS NULL AND NEW.issued_on IS NOT NULL AND {unchanged})"
    return [
        f"""CREATE TRIGGER billing_line_issued_insert BEFORE INSERT ON billing_invoiceline
        WHEN {issued.format(ref="NEW")}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;""",
        f"""CREATE TRIGGER billing_line_issued_update BEFORE UPDATE ON billing_invoiceline
        WHEN ({issued.format(ref="OLD")} OR {issued.format(ref="NEW")}) AND NOT {stamp}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;""",
        f"""CREATE TRIGGER billing_line_issued_delete BEFORE DELETE ON billing_invoiceline
        WHEN {issued.format(ref="OLD")}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;""",
        f"""CREATE TRIGGER billing_line_stamp_insert BEFORE INSERT ON billing_invoiceline
        WHEN NEW.issued_on IS NOT NULL AND NOT {issued_on_date}
        BEGIN SELECT RAISE(ABORT, '{STAMP_MESSAGE}'); END;""",
        f"""CREATE TRIGGER billing_line_stamp_update BEFORE UPDATE ON billing_invoiceline
        WHEN NEW.issued_on IS NOT OLD.issued_on
          AND NOT (OLD.issued_on IS NULL AND {issued_on_date})
        BEGIN SELECT RAISE(ABORT, '{STAMP_MESSAGE}'); END;""",
        """CREATE TRIGGER billing_invoice_stamps_lines AFTER UPDATE OF status ON billing_invoice
        WHEN NEW.status = 'issued' AND OLD.status IS NOT 'issued'
        BEGIN
          UPDATE billing_invoiceline SET issued_on = NEW.issue_date WHERE invoice_id = NEW.id;
        END;""",
    ]


def sqlite_triggers(columns: list[str]) -> tuple[list[str], list[str]]:
    """(create, drop) statements of every billing trigger on SQLite as of this migration:
    0002's on invoices and this migration's; `columns` as `_line_columns` gives them."""
    base_forward, base_backward = BASE._sqlite_sql()
    invoice_triggers = [s for s in base_forward if " ON billing_invoice\n" in s]
    forward = [*invoice_triggers, *_own_sqlite_triggers(columns)]
    backward = [*base_backward, *(f"DROP TRIGGER IF EXISTS {name};" for name in _OWN_NAMES)]
    return forward, backward


_POSTGRES_LINE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION billing_line_immutable() RETURNS trigger AS $$
DECLARE
  unstamped billing_invoiceline;
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.issued_on IS NULL AND NEW.issued_on IS NOT NULL THEN
    -- The stamp of the issue (billing_invoice_stamps_lines): nothing else changes with it.
    unstamped := NEW;
    unstamped.issued_on := NULL;
    IF unstamped IS DISTINCT FROM OLD THEN RAISE EXCEPTION '{MESSAGE}'; END IF;
    IF NOT EXISTS (SELECT 1 FROM billing_invoice WHERE id = NEW.invoice_id
                   AND status = 'issued' AND issue_date = NEW.issued_on) THEN
      RAISE EXCEPTION '{STAMP_MESSAGE}';
    END IF;
    RETURN NEW;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') AND EXISTS (
      SELECT 1 FROM billing_invoice WHERE id = OLD.invoice_id AND status = 'issued') THEN
    RAISE EXCEPTION '{MESSAGE}';
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND EXISTS (
      SELECT 1 FROM billing_invoice WHERE id = NEW.invoice_id AND status = 'issued') THEN
    RAISE EXCEPTION '{MESSAGE}';
  END IF;
  -- Not issued: no issue date to carry.
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.issued_on IS NOT NULL THEN
    RAISE EXCEPTION '{STAMP_MESSAGE}';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
"""

_POSTGRES_STAMP = [
    """CREATE FUNCTION billing_invoice_stamps_lines() RETURNS trigger AS $$
    BEGIN
      UPDATE billing_invoiceline SET issued_on = NEW.issue_date WHERE invoice_id = NEW.id;
      RETURN NULL;
    END $$ LANGUAGE plpgsql;""",
    """CREATE TRIGGER billing_invoice_stamps_lines AFTER UPDATE ON billing_invoice
    FOR EACH ROW WHEN (NEW.status = 'issued' AND OLD.status IS DISTINCT FROM 'issued')
    EXECUTE FUNCTION billing_invoice_stamps_lines();""",
]

_STAMP_ISSUED_LINES = """
UPDATE billing_invoiceline SET issued_on = (
    SELECT issue_date FROM billing_invoice i WHERE i.id = billing_invoiceline.invoice_id)
WHERE invoice_id IN (SELECT id FROM billing_invoice WHERE status = 'issued')
"""


def stamp_lines_and_install_triggers(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        schema_editor.execute(
            "ALTER TABLE billing_invoiceline DISABLE TRIGGER billing_line_immutable"
        )
        schema_editor.execute(_STAMP_ISSUED_LINES)
        schema_editor.execute(
            "ALTER TABLE billing_invoiceline ENABLE TRIGGER billing_line_immutable"
        )
        schema_editor.execute(_POSTGRES_LINE_FUNCTION)
        for statement in _POSTGRES_STAMP:
            schema_editor.execute(statement)
    elif vendor == "sqlite":
        for statement in BASE._sqlite_sql()[1]:  # 0002's, the invoices' among them
            schema_editor.execute(statement)
        schema_editor.execute(_STAMP_ISSUED_LINES)
        for statement in sqlite_triggers(_line_columns(apps))[0]:
            schema_editor.execute(statement)
    else:  # pragma: no cover - Levier supports SQLite and PostgreSQL only
        raise RuntimeError(f"no triggers for {vendor}")


def restore_triggers(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(
            "DROP TRIGGER IF EXISTS billing_invoice_stamps_lines ON billing_invoice"
        )
        schema_editor.execute("DROP FUNCTION IF EXISTS billing_invoice_stamps_lines()")
        base_forward, _ = BASE._postgres_sql()
        line_function = next(s for s in base_forward if "billing_line_immutable()" in s)
        schema_editor.execute(
            line_function.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")
        )
    elif vendor == "sqlite":
        for statement in sqlite_triggers(_line_columns(apps))[1]:
            schema_editor.execute(statement)
        for statement in BASE._sqlite_sql()[0]:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0010_credit_notes_index"),
        ("catalog", "0002_product_version"),
        ("contracts", "0003_contract_late_interest_rate"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="invoiceline",
            name="lines_with_service_period",
        ),
        migrations.AddField(
            model_name="invoiceline",
            name="issued_on",
            field=models.DateField(editable=False, null=True),
        ),
        migrations.RunPython(stamp_lines_and_install_triggers, restore_triggers),
        migrations.AddIndex(
            model_name="invoiceline",
            index=models.Index(
                condition=models.Q(("period_start__isnull", False)),
                fields=["period_end", "issued_on", "invoice"],
                name="issued_lines_with_period",
            ),
        ),
        migrations.AddIndex(
            model_name="invoiceline",
            index=models.Index(
                condition=models.Q(
                    ("contract_line__isnull", False),
                    models.Q(("billing_key", ""), _negated=True),
                ),
                fields=["contract_line", "issued_on", "billing_key"],
                name="billed_contract_items",
            ),
        ),
    ]
