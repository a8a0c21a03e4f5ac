"""Statuses against thresholds: defaults, the Administrateur's limits, refusals, the audit trail."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.accounts.permissions import PermissionDenied
from levier.audit.choices import Verb
from levier.audit.models import AuditEvent
from levier.kpis.figures import KpiFigures
from levier.kpis.models import KpiThreshold
from levier.kpis.services import HEADLINE
from levier.kpis.thresholds import (
    AMBER,
    DEFAULTS,
    GREEN,
    RED,
    clear_threshold,
    reset_threshold,
    save_threshold,
    status_of,
    statuses,
    thresholds,
)
from levier.lib.errors import ValidationFailed

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.mark.parametrize(
    ("value", "status"),
    [("0", GREEN), ("45", GREEN), ("45.1", AMBER), ("60", AMBER), ("60.1", RED), ("400", RED)],
)
def test_a_dso_up_to_45_days_is_green_up_to_60_amber_beyond_red(value: str, status: str) -> None:
    assert status_of("dso_simple", D(value)) == status


def test_rates_are_compared_as_percents() -> None:
    # KpiFigures holds 0.03 for 3 %: above the 2 % of the best companies, within 5 %.
    assert status_of("credit_note_rate", D("0.0200")) == GREEN
    assert status_of("credit_note_rate", D("0.0300")) == AMBER
    assert status_of("credit_note_rate", D("0.0501")) == RED
    assert status_of("dispute_rate", D("0.01")) == GREEN


def test_when_higher_is_better_a_low_value_is_red() -> None:
    assert status_of("cei", D("85")) == GREEN
    assert status_of("cei", D("80")) == GREEN
    assert status_of("cei", D("75")) == AMBER
    assert status_of("cei", D("69.9")) == RED


def test_an_undefined_value_or_a_figure_without_threshold_has_no_status() -> None:
    assert status_of("dso_simple", None) is None  # no sales: DSO undefined
    assert status_of("fae", D("125000")) is None  # an amount: no default limit
    assert status_of("receivables_ttc", D("1")) is None  # not a figure with a status
    assert status_of("nope", D("1")) is None


def test_every_headline_and_every_default_is_a_figure_of_kpi_figures() -> None:
    fields = set(KpiFigures.__dataclass_fields__)
    assert set(DEFAULTS) <= fields
    assert {headline.key for headline in HEADLINE} <= set(DEFAULTS)
    for key, spec in DEFAULTS.items():
        assert spec.source, key
        if spec.amber is not None and spec.red is not None:
            assert (spec.amber >= spec.red) if spec.higher_is_better else (spec.amber <= spec.red)


def test_the_administrator_sets_limits_and_the_change_is_audited(admin_user: User) -> None:
    saved = save_threshold(
        actor=admin_user, key="dso_simple", amber="30", red="50,5", higher_is_better=False
    )
    assert (saved.amber, saved.red, saved.is_default) == (D("30.00"), D("50.50"), False)
    assert status_of("dso_simple", D("40")) == AMBER
    assert status_of("dso_simple", D("51")) == RED
    event = AuditEvent.objects.get(object_type="kpis.kpithreshold")
    assert event.verb == Verb.CREATE
    assert event.actor == admin_user
    assert event.changes == {"amber": ["45.00", "30.00"], "red": ["60.00", "50.50"]}
    save_threshold(actor=admin_user, key="dso_simple", amber="30", red="55", higher_is_better=False)
    latest = AuditEvent.objects.filter(object_type="kpis.kpithreshold").order_by("-pk").first()
    assert latest is not None and latest.verb == Verb.UPDATE
    assert latest.changes == {"red": ["50.50", "55.00"]}
    assert KpiThreshold.objects.count() == 1


def test_an_amount_gets_a_status_once_the_administrator_sets_one(admin_user: User) -> None:
    save_threshold(actor=admin_user, key="fae", amber="50000", red="100000", higher_is_better=False)
    assert status_of("fae", D("75000.00")) == AMBER


def test_cleared_limits_show_no_status_and_reset_brings_the_default_back(
    admin_user: User,
) -> None:
    clear_threshold(actor=admin_user, key="dso_simple")
    assert status_of("dso_simple", D("400")) is None
    reset_threshold(actor=admin_user, key="dso_simple")
    assert status_of("dso_simple", D("400")) == RED
    assert not KpiThreshold.objects.exists()
    verbs = list(
        AuditEvent.objects.filter(object_type="kpis.kpithreshold")
        .order_by("pk")
        .values_list("verb", flat=True)
    )
    assert verbs == [Verb.CREATE, Verb.DELETE]


@pytest.mark.parametrize(
    "role", [Role.COMMERCIAL, Role.ADV, Role.COMPTABILITE, Role.DIRECTION, Role.AUDITEUR]
)
def test_only_the_administrator_may_change_thresholds(
    personas: dict[Role, User], role: Role
) -> None:
    actor = personas[role]
    with pytest.raises(PermissionDenied):
        save_threshold(actor=actor, key="dso_simple", amber="1", red="2", higher_is_better=False)
    with pytest.raises(PermissionDenied):
        clear_threshold(actor=actor, key="dso_simple")
    with pytest.raises(PermissionDenied):
        reset_threshold(actor=actor, key="dso_simple")
    assert not KpiThreshold.objects.exists()


@pytest.mark.parametrize(
    ("amber", "red", "higher", "field"),
    [
        ("60", "45", False, "red"),  # lower is better: red below amber
        ("70", "80", True, "red"),  # higher is better: red above amber
        ("-1", "5", False, "amber"),
        ("1", "-5", False, "red"),
        ("abc", "5", False, "amber"),
        ("1", "NaN", False, "red"),
        ("Infinity", "5", False, "amber"),
        ("", "5", False, "amber"),
        ("1", "   ", False, "red"),
        ("1e400", "5", False, "amber"),
        ("1", "10000000000000", False, "red"),
    ],
)
def test_inconsistent_or_junk_limits_are_refused_naming_the_field(
    admin_user: User, amber: str, red: str, higher: bool, field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        save_threshold(
            actor=admin_user, key="dso_simple", amber=amber, red=red, higher_is_better=higher
        )
    assert field in refused.value.errors
    assert not KpiThreshold.objects.exists()


def test_equal_limits_leave_no_amber_band(admin_user: User) -> None:
    save_threshold(actor=admin_user, key="dispute_rate", amber="3", red="3", higher_is_better=False)
    assert status_of("dispute_rate", D("0.03")) == GREEN
    assert status_of("dispute_rate", D("0.0301")) == RED


def test_a_threshold_on_an_unknown_figure_is_refused(admin_user: User) -> None:
    with pytest.raises(ValidationFailed) as refused:
        save_threshold(actor=admin_user, key="as_of", amber="1", red="2", higher_is_better=False)
    assert "key" in refused.value.errors


def test_the_cards_statuses_take_one_query(admin_user: User) -> None:
    save_threshold(actor=admin_user, key="fae", amber="10", red="20", higher_is_better=False)
    values = {
        "invoicing_delay_days": D("4"),
        "invoice_error_rate": None,
        "dso_simple": D("30"),
        "fae": D("25"),
        "dispute_rate": D("0.06"),
        "receivables_ttc": D("1"),
    }
    with CaptureQueriesContext(connection) as queries:
        found = statuses(values)
    assert len(queries) == 1
    assert found == {
        "invoicing_delay_days": AMBER,
        "invoice_error_rate": None,
        "dso_simple": GREEN,
        "fae": RED,
        "dispute_rate": RED,
        "receivables_ttc": None,
    }
    assert list(thresholds())[:3] == [
        "invoicing_delay_days",
        "invoice_error_rate",
        "credit_note_rate",
    ]
