from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils.translation import override

from levier.accounts.choices import Role
from levier.accounts.docs import matrix_markdown
from levier.accounts.models import User
from levier.accounts.permissions import MATRIX, Action, PermissionDenied, can, require

DOC = Path(__file__).resolve().parents[3] / "docs" / "roles.md"


def test_docs_roles_md_shows_exactly_the_enforced_matrix() -> None:
    assert matrix_markdown() in DOC.read_text(encoding="utf-8")


def test_every_action_has_a_row_in_the_matrix() -> None:
    assert set(MATRIX) == set(Action)


def test_auditor_reads_everything_and_writes_only_its_adv_audits() -> None:
    assert [a for a, roles in MATRIX.items() if Role.AUDITEUR in roles] == [
        Action.VIEW,
        Action.VIEW_COLLECTIONS,
        Action.VIEW_KPIS,
        Action.RUN_ADV_AUDIT,
    ]


def test_sales_never_approves_anything() -> None:
    approvals = {Action.APPROVE_AS_ADV, Action.APPROVE_AS_COMPTABILITE, Action.APPROVE_AS_DIRECTION}
    assert not any(Role.COMMERCIAL in MATRIX[a] for a in approvals)


@pytest.mark.django_db
def test_inactive_user_can_do_nothing(adv: User) -> None:
    adv.is_active = False
    assert not can(adv, Action.VIEW)
    with pytest.raises(PermissionDenied):
        require(adv, Action.APPROVE_AS_ADV)


@pytest.mark.django_db
def test_refusal_names_the_role_and_what_it_may_not_do_in_the_user_language(adv: User) -> None:
    with pytest.raises(PermissionDenied) as exc:
        require(adv, Action.MANAGE_RULES)
    assert exc.value.action == Action.MANAGE_RULES
    assert str(exc.value) == (
        "Le rôle ADV ne permet pas : modifier les règles de validation et les fiches de "
        f"procédure (utilisateur {adv.username})"
    )
    with override("en"), pytest.raises(PermissionDenied) as exc:
        require(adv, Action.MANAGE_RULES)
    assert str(exc.value) == (
        f"The ADV role does not allow: edit validation rules and procedure sheets "
        f"(user {adv.username})"
    )


def test_anonymous_can_do_nothing() -> None:
    assert not any(can(None, action) for action in Action)


@pytest.mark.django_db
def test_passwords_are_hashed_with_argon2() -> None:
    user = User.objects.create_user("zoe", password="Un-mot-de-passe-long-2026", role=Role.ADV)
    assert user.password.startswith("argon2")


@pytest.mark.django_db
def test_login_page_logs_in_and_redirects_to_the_worklist() -> None:
    User.objects.create_user("zoe", password="Un-mot-de-passe-long-2026", role=Role.ADV)
    response = Client().post(
        "/login/", {"username": "zoe", "password": "Un-mot-de-passe-long-2026"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/"


@pytest.mark.django_db
def test_repeated_failed_logins_lock_the_account_even_with_the_right_password() -> None:
    User.objects.create_user("zoe", password="Un-mot-de-passe-long-2026", role=Role.ADV)
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post("/login/", {"username": "zoe", "password": "wrong"})
        assert response.status_code in (200, 429)
    response = client.post("/login/", {"username": "zoe", "password": "Un-mot-de-passe-long-2026"})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_session_and_csrf_cookies_are_hardened() -> None:
    assert settings.SESSION_COOKIE_HTTPONLY
    assert settings.SESSION_COOKIE_SAMESITE == "Lax"
    assert "django.middleware.csrf.CsrfViewMiddleware" in settings.MIDDLEWARE
    assert settings.X_FRAME_OPTIONS == "DENY"


def test_only_accounting_and_admin_set_customer_terms_credit_limit_and_strategic_flag() -> None:
    # these fields decide whether Comptabilité must approve an order: sales may not set them
    assert MATRIX[Action.EDIT_CREDIT_TERMS] == {Role.COMPTABILITE, Role.ADMINISTRATEUR}


@pytest.mark.django_db
def test_refusal_of_a_guarded_field_names_the_field(commercial: User) -> None:
    with override("en"):
        exc = PermissionDenied(commercial, Action.EDIT_CREDIT_TERMS, "credit limit")
    assert str(exc) == (
        "The Commercial role does not allow: set payment terms, credit limit and strategic "
        f"flag (user {commercial.username}); field concerned: credit limit"
    )
    assert exc.field == "credit limit"
