"""Shared test personas (healthchecks' `hc/test.py`): one user per role, plus an outsider."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.accounts.tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _french_by_default() -> Iterator[None]:
    """Each test starts in the UI's default language (French).

    The locale middleware activates the request's language and never resets it, so a test
    client request in English would otherwise leave English active for the next tests.
    """
    translation.activate("fr")
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _archive_in_tmp(settings: Any, tmp_path: Path) -> None:
    """Archived documents go to the test's own folder, never to the checkout's var/."""
    settings.ARCHIVE_DIR = tmp_path / "archive"
    settings.LEVIER_OUTBOX_DIR = tmp_path / "outbox"


@pytest.fixture
def commercial(db: None) -> User:
    return UserFactory(username="alice.commercial", role=Role.COMMERCIAL)


@pytest.fixture
def commercial2(db: None) -> User:
    return UserFactory(username="bruno.commercial", role=Role.COMMERCIAL)


@pytest.fixture
def adv(db: None) -> User:
    return UserFactory(username="claire.adv", role=Role.ADV)


@pytest.fixture
def adv2(db: None) -> User:
    return UserFactory(username="damien.adv", role=Role.ADV)


@pytest.fixture
def compta(db: None) -> User:
    return UserFactory(username="emma.compta", role=Role.COMPTABILITE)


@pytest.fixture
def direction(db: None) -> User:
    return UserFactory(username="franck.direction", role=Role.DIRECTION)


@pytest.fixture
def admin_user(db: None) -> User:
    return UserFactory(username="gael.admin", role=Role.ADMINISTRATEUR)


@pytest.fixture
def auditeur(db: None) -> User:
    return UserFactory(username="hugo.auditeur", role=Role.AUDITEUR)


@pytest.fixture
def personas(
    commercial: User, adv: User, compta: User, direction: User, admin_user: User, auditeur: User
) -> dict[Role, User]:
    return {
        Role.COMMERCIAL: commercial,
        Role.ADV: adv,
        Role.COMPTABILITE: compta,
        Role.DIRECTION: direction,
        Role.ADMINISTRATEUR: admin_user,
        Role.AUDITEUR: auditeur,
    }
