"""The seller's identity: read once per document, checked before anything is issued."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from babel.numbers import format_decimal
from django.db import transaction
from django.utils.translation import gettext as _

from levier.accounts.models import User
from levier.accounts.permissions import Action, require
from levier.audit.choices import Verb
from levier.audit.services import diff, record_event, snapshot
from levier.billing.models import CompanyProfile
from levier.einvoice import model as en
from levier.lib.errors import ValidationFailed
from levier.lib.identifiers import IdentifierError, clean_iban, clean_siren, clean_siret, clean_vat

EDITABLE_FIELDS = frozenset(
    f.name
    for f in CompanyProfile._meta.get_fields()
    if f.concrete and f.name not in {"id", "updated_at", "logo", "logo_content_type"}
)
MAX_LOGO_BYTES = 500_000


def company_profile() -> CompanyProfile:
    """The profile row, created empty on first use (issuing then lists what is missing)."""
    profile, _created = CompanyProfile.objects.get_or_create(pk=1)
    return profile


def missing_seller_mentions(profile: CompanyProfile) -> list[str]:
    """Seller mentions CGI ann. II art. 242 nonies A and C. com. R123-237 require."""
    missing = []
    if not profile.legal_name.strip():
        missing.append(_("Company: legal name missing"))
    if not profile.siren:
        missing.append(_("Company: SIREN missing"))
    if not profile.vat_number:
        missing.append(_("Company: VAT number missing"))
    if not (profile.address_line1 and profile.postcode and profile.city):
        missing.append(_("Company: address incomplete"))
    if not profile.legal_form:
        missing.append(_("Company: legal form missing"))
    if not profile.rcs_city:
        missing.append(_("Company: RCS registry city missing"))
    return missing


@transaction.atomic
def update_company_profile(
    *, actor: User, changes: Mapping[str, Any], logo: bytes | None = None, logo_type: str = ""
) -> CompanyProfile:
    """Edit the seller identity; identifiers are checked and normalised like a customer's."""
    require(actor, Action.MANAGE_COMPANY)
    profile = CompanyProfile.objects.select_for_update().get(pk=company_profile().pk)
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValidationFailed(
            _("unknown field(s): %(fields)s") % {"fields": ", ".join(sorted(unknown))},
            errors={name: [_("unknown field")] for name in unknown},
        )
    audited = sorted(EDITABLE_FIELDS)
    before = snapshot(profile, audited)
    errors: dict[str, list[str]] = {}
    cleaners: dict[str, Callable[[str], str]] = {
        "siren": clean_siren,
        "siret": clean_siret,
        "vat_number": clean_vat,
        "iban": clean_iban,
    }
    for name, value in changes.items():
        if name in cleaners and value:
            try:
                value = cleaners[name](str(value))
            except IdentifierError as exc:
                errors.setdefault(name, []).append(str(exc))
                continue
        if name == "share_capital" and value in (None, ""):
            profile.share_capital = None
            continue
        if name == "share_capital":
            try:
                value = Decimal(str(value).replace(" ", "").replace(",", "."))
            except ArithmeticError:
                errors.setdefault(name, []).append(_("not an amount"))
                continue
        setattr(profile, name, value if value is not None else "")
    if logo is not None:
        if len(logo) > MAX_LOGO_BYTES:
            errors.setdefault("logo", []).append(_("the logo must weigh less than 500 KB"))
        elif logo and logo_type not in {"image/png", "image/jpeg"}:
            errors.setdefault("logo", []).append(_("the logo must be a PNG or JPEG image"))
        else:
            profile.logo, profile.logo_content_type = logo, logo_type
    if errors:
        raise ValidationFailed(_("The company profile has errors"), errors=errors)
    profile.save()
    changed = diff(before, snapshot(profile, audited))
    if logo is not None:
        changed["logo"] = [None, f"{len(logo)} bytes"]
    record_event(actor=actor, verb=Verb.UPDATE, instance=profile, changes=changed)
    return profile


def legal_footer(profile: CompanyProfile) -> str:
    """« Numéria Conseil SAS au capital de 80 000 € – RCS Lyon 404 833 048 – TVA FR… »."""
    parts = [f"{profile.legal_name} {profile.legal_form}".strip()]
    if profile.share_capital is not None:
        capital = format_decimal(profile.share_capital, format="#,##0.##", locale="fr_FR")
        parts[0] += f" au capital de {capital} €"
    if profile.rcs_city and profile.siren:
        parts.append(f"RCS {profile.rcs_city} {profile.siren}")
    if profile.siret:
        parts.append(f"SIRET {profile.siret}")
    if profile.naf_code:
        parts.append(f"APE {profile.naf_code}")
    if profile.vat_number:
        parts.append(f"TVA {profile.vat_number}")
    return " – ".join(p for p in parts if p)


def seller_party(profile: CompanyProfile) -> en.Party:
    return en.Party(
        name=profile.legal_name,
        trading_name=profile.trading_name,
        address=en.Address(
            line1=profile.address_line1,
            line2=profile.address_line2,
            postcode=profile.postcode,
            city=profile.city,
            country_code=profile.country,
        ),
        siren=profile.siren,
        siret=profile.siret,
        vat_id=profile.vat_number,
        electronic_address=profile.siren,
        contact=en.Contact(name="Service ADV", phone=profile.phone, email=profile.email)
        if (profile.phone or profile.email)
        else None,
    )


def legal_notes(profile: CompanyProfile) -> en.LegalNotes:
    return en.LegalNotes(
        late_penalty=profile.late_penalty_text,
        early_payment_discount=profile.early_payment_text,
        extra=(en.Note("REG", legal_footer(profile)),),
    )
