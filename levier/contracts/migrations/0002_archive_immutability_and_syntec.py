"""Archived contractual documents can never be updated nor deleted, whatever code runs the
SQL (kept ten years: C. com. L110-4, L123-22); and the Syntec révisé index series exists.

On SQLite a test database is flushed with DELETE: tests that archive documents must run
inside a transaction (pytest-django's default), never with transaction=True.
"""

from django.db import migrations

MESSAGE = "archived contractual documents are kept ten years and cannot change"
TABLE = "contracts_archiveddocument"


def install_triggers(apps, schema_editor):  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for op in ("UPDATE", "DELETE"):
            schema_editor.execute(
                f"CREATE TRIGGER contracts_archive_no_{op.lower()} BEFORE {op} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;"
            )
    elif vendor == "postgresql":
        schema_editor.execute(
            "CREATE FUNCTION contracts_archive_immutable() RETURNS trigger AS $$ "
            f"BEGIN RAISE EXCEPTION '{MESSAGE}'; END $$ LANGUAGE plpgsql;"
        )
        schema_editor.execute(
            f"CREATE TRIGGER contracts_archive_immutable BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION contracts_archive_immutable();"
        )
    else:  # pragma: no cover - Levier supports SQLite and PostgreSQL only
        raise RuntimeError(f"no archive triggers for {vendor}")


def remove_triggers(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "sqlite":
        for op in ("update", "delete"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS contracts_archive_no_{op};")
    else:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS contracts_archive_immutable ON {TABLE};")
        schema_editor.execute("DROP FUNCTION IF EXISTS contracts_archive_immutable();")


def syntec(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("contracts", "IndexSeries").objects.get_or_create(
        code="syntec_revise",
        defaults={"name": "Syntec révisé", "publication_lag_months": 2},
    )


class Migration(migrations.Migration):
    dependencies = [("contracts", "0001_initial")]

    operations = [
        migrations.RunPython(install_triggers, remove_triggers),
        migrations.RunPython(syntec, migrations.RunPython.noop),
    ]
