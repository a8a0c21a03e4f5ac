"""The seller's identity: checked before issuing, editable by the Administrateur only."""

import pytest

from levier.accounts.models import User
from levier.accounts.permissions import PermissionDenied
from levier.billing.company import (
    company_profile,
    legal_footer,
    missing_seller_mentions,
    update_company_profile,
)
from levier.billing.models import CompanyProfile
from levier.billing.services import issue_invoice
from levier.billing.tests.factories import draft_invoice
from levier.lib.errors import ValidationFailed

pytestmark = pytest.mark.django_db


def test_issuing_is_blocked_while_the_seller_identity_is_incomplete(adv: User) -> None:
    CompanyProfile.objects.filter(pk=1).update(siren="", rcs_city="")
    with pytest.raises(ValidationFailed) as refused:
        issue_invoice(actor=adv, invoice=draft_invoice(adv))
    assert "SIREN" in str(refused.value) and "RCS" in str(refused.value)


def test_the_legal_footer_names_form_capital_registry_and_vat() -> None:
    footer = legal_footer(company_profile())
    assert footer.startswith("Levier Conseil SAS au capital de 50\u202f000 €")
    assert "RCS Paris 404833048" in footer and "TVA FR83404833048" in footer


def test_only_the_administrateur_edits_the_company(adv: User, admin_user: User) -> None:
    with pytest.raises(PermissionDenied):
        update_company_profile(actor=adv, changes={"legal_name": "X"})
    profile = update_company_profile(
        actor=admin_user, changes={"siren": "732 829 320", "vat_number": "fr44732829320"}
    )
    assert (profile.siren, profile.vat_number) == ("732829320", "FR44732829320")


def test_a_wrong_identifier_names_its_field_and_changes_nothing(admin_user: User) -> None:
    with pytest.raises(ValidationFailed) as refused:
        update_company_profile(
            actor=admin_user, changes={"legal_name": "Autre", "siren": "123456789"}
        )
    assert set(refused.value.errors) == {"siren"}
    assert company_profile().legal_name == "Levier Conseil"


def test_a_logo_must_be_a_small_png_or_jpeg(admin_user: User) -> None:
    with pytest.raises(ValidationFailed) as refused:
        update_company_profile(actor=admin_user, changes={}, logo=b"GIF89a", logo_type="image/gif")
    assert "logo" in refused.value.errors


def test_an_empty_profile_lists_every_missing_seller_mention() -> None:
    assert len(missing_seller_mentions(CompanyProfile())) == 6


def test_the_share_capital_can_be_cleared(admin_user: User) -> None:
    assert (
        update_company_profile(actor=admin_user, changes={"share_capital": ""}).share_capital
        is None
    )
