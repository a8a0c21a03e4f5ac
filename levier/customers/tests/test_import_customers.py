from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.utils.translation import override
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum.fr.siren import is_valid as siren_is_valid

from levier.accounts.models import User
from levier.audit.choices import Channel, Verb
from levier.audit.models import AuditEvent
from levier.customers.csv_import import ImportReport, decode, sniff_delimiter
from levier.customers.models import Customer
from levier.customers.services import import_customers
from levier.customers.tests.factories import CustomerFactory
from levier.customers.tests.helpers import new_siren, new_siret

HEADER = [
    "name",
    "siren",
    "siret",
    "postcode",
    "city",
    "credit_limit",
    "contact_last_name",
    "contact_email",
]


def _row(
    name: str, siren: str | None = None, postcode: str = "75011", credit: str = ""
) -> list[str]:
    siren = siren if siren is not None else new_siren()
    siret = new_siret(siren) if siren_is_valid(siren) else ""
    return [name, siren, siret, postcode, "Paris", credit, "Martin", "compta@example.fr"]


def _csv(rows: list[list[str]], delimiter: str = ";", header: list[str] = HEADER) -> str:
    return "\n".join(delimiter.join(r) for r in [header, *rows]) + "\n"


def _bad_siren() -> str:
    good = new_siren()
    return good[:8] + str((int(good[8]) + 1) % 10)


def test_all_valid_rows_are_imported_with_contact_and_audit(admin_user: User) -> None:
    # the administrator may set the credit limit (ADV may not: see the credit terms tests)
    data = _csv([_row("Alpha Conseil SAS", credit="12 500,75"), _row("Beta Industrie")])
    report = import_customers(actor=admin_user, file=data.encode())
    assert report.ok and report.imported == 2
    alpha = Customer.objects.get(search_name="alpha conseil")
    assert str(alpha.credit_limit) == "12500.75"
    assert alpha.contacts.get().email == "compta@example.fr"
    assert (
        AuditEvent.objects.filter(verb=Verb.IMPORT, object_type="customers.customer").count() == 2
    )


def test_one_bad_row_imports_nothing_and_names_line_and_column(adv: User) -> None:
    data = _csv([_row("Alpha"), _row("Beta"), _row("Gamma", siren=_bad_siren())])
    with override("en"):
        report = import_customers(actor=adv, file=data.encode())
    assert not report.ok and report.imported == 0
    assert not Customer.objects.exists()
    (problem,) = report.problems
    assert (problem.line, problem.column) == (4, "siren")
    with override("en"):
        assert str(problem).startswith("line 4, column siren: SIREN: checksum")


def test_skip_mode_imports_the_valid_rows_and_lists_the_rejected_ones(adv: User) -> None:
    data = _csv([_row("Alpha"), _row("Beta", siren=_bad_siren()), _row("Gamma", credit="-5")])
    report = import_customers(actor=adv, file=data.encode(), skip_invalid=True)
    assert report.imported == 1 and report.rejected_lines == [3, 4]
    assert [p.column for p in report.problems] == ["siren", "credit_limit"]
    assert list(Customer.objects.values_list("name", flat=True)) == ["Alpha"]


def test_dry_run_reports_without_writing(adv: User) -> None:
    report = import_customers(actor=adv, file=_csv([_row("Alpha")]).encode(), dry_run=True)
    assert report.ok and report.valid_lines == [2] and report.imported == 0
    assert not Customer.objects.exists()


def test_utf8_bom_cp1252_and_comma_delimiter_are_understood(adv: User) -> None:
    bom = "\ufeff" + _csv([_row("Société Générale Épargne")])
    cp1252 = _csv([_row("Crème Brûlée SARL", postcode="69001")])
    commas = _csv([_row("Gamma")], delimiter=",")
    r1 = import_customers(actor=adv, file=bom.encode("utf-8"))
    r2 = import_customers(actor=adv, file=cp1252.encode("cp1252"))
    r3 = import_customers(actor=adv, file=io.BytesIO(commas.encode()))
    assert (r1.encoding, r2.encoding, r3.delimiter) == ("utf-8", "cp1252", ",")
    assert r1.imported == r2.imported == r3.imported == 1
    assert Customer.objects.filter(name="Crème Brûlée SARL").exists()


def test_unknown_and_missing_header_columns_are_named(adv: User) -> None:
    with override("en"):
        report = import_customers(actor=adv, file=b"raison_sociale;siren\nX;123\n")
    assert any("unknown column(s) 'raison_sociale'" in e for e in report.file_errors)
    assert any("missing required column(s) name" in e for e in report.file_errors)


def test_duplicates_within_the_file_and_against_the_database_are_rejected(adv: User) -> None:
    existing = CustomerFactory()
    siren = new_siren()
    data = _csv(
        [
            _row("Alpha", siren=siren),
            _row("Alpha bis", siren=siren),
            _row("Old", siren=existing.siren),
        ]
    )
    with override("en"):
        report = import_customers(actor=adv, file=data.encode(), skip_invalid=True)
        messages = {p.line: str(p) for p in report.problems}
    assert "same SIREN as line 2" in messages[3]
    assert f"existing customer #{existing.pk}" in messages[4]
    assert report.imported == 1


def test_row_with_wrong_number_of_values_is_reported(adv: User) -> None:
    # French by default (the UI's language), English when the user switched
    report = import_customers(actor=adv, file=b"name;siren\nAlpha;123;extra\n")
    assert str(report.problems[0]) == "ligne 2 : 3 valeurs pour 2 colonnes"
    with override("en"):
        report = import_customers(actor=adv, file=b"name;siren\nAlpha;123;extra\n")
        assert str(report.problems[0]) == "line 2: 3 values for 2 columns"


def test_delimiter_is_sniffed_from_the_header() -> None:
    assert sniff_delimiter("name;siren;city") == ";"
    assert sniff_delimiter("name,siren,city") == ","
    assert decode(b"\xef\xbb\xbfname") == ("name", "utf-8")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    raw=st.one_of(
        st.binary(max_size=400), st.text(max_size=300).map(lambda t: ("name;siren\n" + t).encode())
    )
)
def test_arbitrary_bytes_give_a_clean_report_never_an_exception(adv: User, raw: bytes) -> None:
    report = import_customers(actor=adv, file=raw, dry_run=True)
    assert isinstance(report, ImportReport)
    assert report.imported == 0


def test_command_imports_and_exits_1_when_rows_are_rejected(
    admin_user: User, tmp_path: object
) -> None:
    import pathlib

    assert isinstance(tmp_path, pathlib.Path)
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(_csv([_row("Alpha")]), encoding="utf-8")
    bad.write_text(_csv([_row("Beta", siren=_bad_siren())]), encoding="utf-8")
    out = io.StringIO()
    call_command("import_customers", str(good), "--json", stdout=out)
    assert json.loads(out.getvalue())["imported"] == 1
    event = AuditEvent.objects.get(object_type="customers.customer")
    assert event.channel == Channel.CLI and event.actor == admin_user
    with pytest.raises(SystemExit) as exc:
        call_command(
            "import_customers",
            str(bad),
            "--skip-invalid",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    assert exc.value.code == 1
