"""`levier cutoff`: the closing figures from a shell, as a table or as JSON."""

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from levier.accounts.models import User
from levier.contracts.models import Contract
from levier.contracts.services import record_delivery
from levier.contracts.tests.factories import contract_line, make_contract

pytestmark = pytest.mark.django_db


def delivered_in_december(adv: User) -> Contract:
    """kpis.md: a 6,000 HT service delivered in December, not invoiced at 31/12."""
    contract = make_contract(adv, [contract_line("on_delivery", "6000")], start=dt.date(2026, 9, 1))
    record_delivery(actor=adv, line=contract.lines.get(), delivered_on=dt.date(2026, 12, 15))
    return contract


def run(*args: str) -> str:
    out = StringIO()
    call_command("cutoff", *args, stdout=out)
    return out.getvalue()


def test_json_report_gives_the_totals_per_contract_and_the_entries(adv: User) -> None:
    contract = delivered_in_december(adv)
    data = json.loads(run("--date", "2026-12-31", "--json"))
    assert data["as_of"] == "2026-12-31"
    assert (data["fae"], data["fae_vat"], data["pca"]) == ("6000.00", "1200.00", "0.00")
    (row,) = data["contracts"]
    assert row["contract_number"] == contract.number
    assert (row["invoiced"], row["earned"], row["fae"]) == ("0.00", "6000.00", "6000.00")
    assert [(e["account"], e["debit"], e["credit"]) for e in data["entries"]] == [
        ("4181", "7200.00", "0.00"),
        ("706", "0.00", "6000.00"),
        ("44587", "0.00", "1200.00"),
    ]


def test_text_report_lists_each_contract_the_totals_and_the_entries(adv: User) -> None:
    contract = delivered_in_december(adv)
    text = run("--date", "2026-12-31")
    assert "31/12/2026" in text
    assert contract.number in text and contract.customer.name[:30] in text
    assert "6 000.00" in text and "1 200.00" in text and "7 200.00" in text
    for account in ("4181", "706", "44587"):
        assert f"\n{account} " in text
    assert "01/01/2027" in text  # the entries say when they are reversed


def test_a_date_with_nothing_to_book_says_so(adv: User) -> None:
    delivered_in_december(adv)
    text = run("--date", "2026-12-14")
    assert "4181" not in text
    assert json.loads(run("--date", "2026-12-14", "--json"))["contracts"] == []


@pytest.mark.parametrize("value", ["31/12/2026", "2026-02-30", "demain"])
def test_a_bad_date_is_refused_naming_the_argument(value: str) -> None:
    with pytest.raises(CommandError, match="--date"):
        run("--date", value)


def test_the_date_is_required() -> None:
    with pytest.raises(CommandError, match="--date"):
        run()
