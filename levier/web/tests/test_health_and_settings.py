"""/healthz for load balancers and monitoring, and settings that refuse bad environment values.

The settings helpers are called directly with a patched environment: reloading Django's
settings inside a test would leave the process half-configured.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

import levier
from levier import settings as levier_settings


@pytest.mark.django_db
def test_healthz_reports_database_and_migrations_ok_with_the_version(client: Client) -> None:
    # `client` is anonymous: monitoring probes carry no session.
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "version": levier.__version__,
        "database": "ok",
        "migrations": "ok",
        "status": "ok",
    }


@pytest.mark.django_db
def test_healthz_is_not_ready_while_migrations_are_pending(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A deployment whose code is ahead of its schema must not receive traffic.
    monkeypatch.setattr(
        MigrationExecutor,
        "migration_plan",
        lambda self, targets: [("sales", "0099"), ("web", "0099")],
    )

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["migrations"] == "2 pending"
    assert response.json()["status"] == "error"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("Yes", True), (" on ", True), ("0", False), ("off", False)],
)
def test_boolean_setting_accepts_the_usual_spellings(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool
) -> None:
    monkeypatch.setenv("LEVIER_TEST_FLAG", raw)

    assert levier_settings.env_bool("LEVIER_TEST_FLAG", not expected) is expected


def test_empty_boolean_setting_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEVIER_TEST_FLAG", "")

    assert levier_settings.env_bool("LEVIER_TEST_FLAG", True) is True


def test_boolean_setting_with_a_typo_fails_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SECURE_COOKIES", "ture")

    with pytest.raises(ImproperlyConfigured, match=r"SECURE_COOKIES='ture' is not a boolean"):
        levier_settings.env_bool("SECURE_COOKIES", True)


def test_integer_setting_that_is_not_a_number_fails_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EMAIL_PORT", "587a")

    with pytest.raises(ImproperlyConfigured, match=r"EMAIL_PORT='587a' is not an integer"):
        levier_settings.env_int("EMAIL_PORT", 25)


def test_integer_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_PORT", "587")

    assert levier_settings.env_int("EMAIL_PORT", 25) == 587


@pytest.mark.parametrize("raw", ["24", "-1"])
def test_a_job_hour_outside_the_day_fails_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("LEVIER_KPI_REPORT_HOUR", raw)

    with pytest.raises(ImproperlyConfigured, match=rf"LEVIER_KPI_REPORT_HOUR={raw} is not an hour"):
        levier_settings.env_hour("LEVIER_KPI_REPORT_HOUR", 7)


def test_a_job_hour_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEVIER_KPI_REPORT_HOUR", "23")

    assert levier_settings.env_hour("LEVIER_KPI_REPORT_HOUR", 7) == 23


@pytest.mark.parametrize("url", ["mysql://levier@db/levier", "oracle://x@y/z", "/var/levier.db"])
def test_unsupported_database_url_fails_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)

    with pytest.raises(ImproperlyConfigured, match=r"DATABASE_URL=.*only sqlite"):
        levier_settings._database()


def test_database_url_that_cannot_be_parsed_fails_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://levier@db.internal:port/levier")

    with pytest.raises(ImproperlyConfigured, match=r"DATABASE_URL=.*cannot be parsed"):
        levier_settings._database()


def test_postgresql_database_url_is_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://levier:s3cret@db.internal:5433/levier")

    config: dict[str, Any] = levier_settings._database()

    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.internal", 5433, "levier")


def test_postgresql_connections_run_without_jit_after_the_url_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://levier@db.internal/levier")
    assert levier_settings._database()["OPTIONS"]["options"] == (
        "-c random_page_cost=1.1 -c jit=off"
    )
    monkeypatch.setenv(
        "DATABASE_URL", "postgresql://levier@db.internal/levier?options=-c%20work_mem%3D64MB"
    )
    options = levier_settings._database()["OPTIONS"]["options"]
    assert options == "-c random_page_cost=1.1 -c work_mem=64MB -c jit=off"


def test_the_random_page_cost_can_be_set_or_left_to_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://levier@db.internal/levier")
    monkeypatch.setenv("LEVIER_PG_RANDOM_PAGE_COST", "2")
    assert levier_settings._database()["OPTIONS"]["options"] == "-c random_page_cost=2 -c jit=off"
    monkeypatch.setenv("LEVIER_PG_RANDOM_PAGE_COST", "")
    assert levier_settings._database()["OPTIONS"]["options"] == "-c jit=off"
    monkeypatch.setenv("LEVIER_PG_RANDOM_PAGE_COST", "fast")
    with pytest.raises(ImproperlyConfigured, match="LEVIER_PG_RANDOM_PAGE_COST='fast'"):
        levier_settings._database()


def test_the_test_database_connection_has_jit_off(db: None) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("JIT is PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)
        cursor.execute("SHOW random_page_cost")
        assert cursor.fetchone() == ("1.1",)


def test_sqlite_is_used_in_the_data_folder_when_database_url_is_unset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr(levier_settings, "DATA_DIR", tmp_path)

    config = levier_settings._database()

    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(tmp_path / "levier.sqlite3")
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_short_secret_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", "too-short")

    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY must be at least 32"):
        levier_settings._secret_key()
