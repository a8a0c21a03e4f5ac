"""The numbering pattern is validated, and frozen once the series has given a number."""

import datetime as dt

import pytest

from levier.accounts.models import User
from levier.billing.admin import NumberingSeriesAdmin, SeriesForm
from levier.billing.models import NumberingSeries
from levier.billing.services import issue_invoice
from levier.billing.tests.factories import draft_invoice

pytestmark = pytest.mark.django_db


def form(**data: object) -> SeriesForm:
    base = {"code": "FX", "kind": "invoice", "pattern": "FX{year}-{seq}", "padding": 6}
    return SeriesForm(data={**base, **data, "yearly_reset": data.get("yearly_reset", True)})


def test_a_pattern_without_the_sequence_or_the_year_is_refused() -> None:
    assert form().is_valid()
    assert "pattern" in form(pattern="FX{year}").errors
    assert "pattern" in form(pattern="FX-{seq}").errors  # yearly reset without the year
    assert form(pattern="FX-{seq}", yearly_reset="").is_valid()
    assert "pattern" in form(pattern="FX{month}-{seq}").errors


def test_a_series_that_gave_a_number_cannot_change_its_pattern(adv: User, rf: object) -> None:
    series = NumberingSeries.objects.get(code="F")
    model_admin = NumberingSeriesAdmin(NumberingSeries, admin_site=None)  # type: ignore[arg-type]
    assert model_admin.get_readonly_fields(None, series) == ()  # type: ignore[arg-type]
    issue_invoice(actor=adv, invoice=draft_invoice(adv), issue_date=dt.date(2026, 11, 27))
    assert "pattern" in model_admin.get_readonly_fields(None, series)  # type: ignore[arg-type]
