"""The CSV import checks a whole file against the customer master in a fixed number of
queries: one for the file's SIRENs, one for its postcodes, then matching in memory."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from levier.accounts.models import User
from levier.customers.services import import_customers
from levier.customers.tests.factories import CustomerFactory
from levier.customers.tests.helpers import new_siren


def _csv(rows: int, *, start: int = 0) -> bytes:
    lines = ["name;siren;postcode;city"]
    for n in range(start, start + rows):
        lines.append(f"Entreprise Numéro {n} SAS;{new_siren()};{75001 + n % 20};Paris")
    return ("\n".join(lines) + "\n").encode()


def _check_queries(adv: User, rows: int) -> int:
    with CaptureQueriesContext(connection) as ctx:
        report = import_customers(actor=adv, file=_csv(rows), dry_run=True)
    assert report.ok, report.problems[:3]
    return len(ctx.captured_queries)


def test_import_duplicate_check_queries_do_not_grow_with_the_rows(
    adv: User, django_assert_max_num_queries: object
) -> None:
    # given a customer master with customers in the file's postcodes
    for n in range(40):
        CustomerFactory(name=f"Client Existant {n}", postcode=str(75001 + n % 20))
    # then checking 10 rows or 400 rows costs the same number of queries (one per lookup)
    small = _check_queries(adv, 10)
    large = _check_queries(adv, 400)
    assert large == small <= 3
    with django_assert_max_num_queries(small):  # type: ignore[operator]
        import_customers(actor=adv, file=_csv(300, start=1000), dry_run=True)


def test_import_finds_existing_duplicates_in_its_batched_lookup(adv: User) -> None:
    existing = CustomerFactory(name="Transports Dupont et Fils SARL", postcode="69003")
    same_siren = CustomerFactory(postcode="13001")
    data = (
        "name;siren;postcode\n"
        f"TRANSPORTS DUPONT & FILS;{new_siren()};69003\n"
        f"Autre Nom;{same_siren.siren};33000\n"
        f"Sans Rapport;{new_siren()};69003\n"
    ).encode()
    report = import_customers(actor=adv, file=data, dry_run=True)
    assert [(p.line, p.column) for p in report.problems] == [(2, "name"), (3, "siren")]
    assert existing.name in report.problems[0].message
    assert same_siren.name in report.problems[1].message


@pytest.mark.django_db(transaction=True)
def test_import_checks_duplicates_inside_the_transaction_that_writes(
    adv: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from levier.customers import csv_import

    seen: list[bool] = []
    original = csv_import.DuplicateIndex.load

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(connection.in_atomic_block)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(csv_import.DuplicateIndex, "load", spy)
    import_customers(actor=adv, file=_csv(3))
    assert seen == [True]
