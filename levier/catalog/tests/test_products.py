from __future__ import annotations

from decimal import Decimal

import pytest

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.accounts.permissions import PermissionDenied
from levier.audit.choices import Verb
from levier.audit.selectors import events_for
from levier.catalog.models import Product
from levier.catalog.selectors import search_products
from levier.catalog.services import create_product, update_product
from levier.catalog.tests.factories import ProductFactory
from levier.lib.errors import StaleVersion, ValidationFailed


def _data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "code": "cons-jour",
        "label": "Journée de conseil",
        "unit": "day",
        "unit_price": "850,5",
        "vat_rate": "20",
        "revenue_account": "706100",
    }
    data.update(overrides)
    return data


def test_product_is_created_with_decimal_price_uppercase_code_and_audit(adv: User) -> None:
    product = create_product(actor=adv, data=_data())
    assert product.code == "CONS-JOUR"
    assert product.unit_price == Decimal("850.5")
    assert events_for(product).get().verb == Verb.CREATE


def test_zero_rate_needs_its_exemption_mention(adv: User) -> None:
    with pytest.raises(ValidationFailed) as exc:
        create_product(actor=adv, data=_data(vat_rate="0"))
    assert exc.value.errors["vat_exemption_mention"][0].startswith(
        "mention d'exonération de TVA : obligatoire"
    )
    product = create_product(
        actor=adv,
        data=_data(vat_rate="0", vat_exemption_mention="Autoliquidation, art. 283-2 du CGI"),
    )
    assert product.vat_rate == 0


def test_revenue_account_must_be_class_7(adv: User) -> None:
    with pytest.raises(ValidationFailed) as exc:
        create_product(actor=adv, data=_data(revenue_account="606000"))
    assert "classe 7" in exc.value.errors["revenue_account"][0]


def test_non_french_vat_rate_and_negative_price_are_refused(adv: User) -> None:
    with pytest.raises(ValidationFailed) as exc:
        create_product(actor=adv, data=_data(vat_rate="19.6", unit_price="-1"))
    assert set(exc.value.errors) == {"vat_rate", "unit_price"}


def test_product_code_is_unique(adv: User) -> None:
    ProductFactory(code="CONS-JOUR")
    with pytest.raises(ValidationFailed) as exc:
        create_product(actor=adv, data=_data())
    assert "déjà utilisé" in exc.value.errors["code"][0]


def test_update_checks_the_version_and_audits_the_price_change(adv: User, admin_user: User) -> None:
    product = ProductFactory()
    update_product(actor=adv, product=product, data={"unit_price": "800"}, expected_version=1)
    assert product.version == 2
    assert events_for(product).get().changes["unit_price"] == ["750.0000", "800.0000"]
    with pytest.raises(StaleVersion):
        update_product(actor=admin_user, product=product, data={"label": "x"}, expected_version=1)


def test_update_may_keep_its_own_code(adv: User) -> None:
    product = ProductFactory(code="SRV-KEEP")
    update_product(actor=adv, product=product, data={"label": "Nouveau"}, expected_version=1)
    assert product.code == "SRV-KEEP" and product.label == "Nouveau"


@pytest.mark.parametrize(
    "role", [Role.COMMERCIAL, Role.COMPTABILITE, Role.DIRECTION, Role.AUDITEUR]
)
def test_only_adv_and_admin_manage_the_catalog(role: Role, personas: dict[Role, User]) -> None:
    with pytest.raises(PermissionDenied):
        create_product(actor=personas[role], data=_data())
    assert not Product.objects.exists()


def test_search_finds_by_code_prefix_or_label_and_hides_inactive(db: None) -> None:
    a = ProductFactory(code="AUDIT-1", label="Audit sécurité")
    ProductFactory(code="FORM-1", label="Formation audit", is_active=False)
    assert list(search_products("audit")) == [a]
    assert len(search_products("audit", active_only=False)) == 2
