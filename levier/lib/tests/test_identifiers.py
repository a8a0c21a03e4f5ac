from __future__ import annotations

import random

import pytest
from django.utils.translation import override
from hypothesis import given
from hypothesis import strategies as st

from levier.lib import identifiers
from levier.lib.identifiers import IdentifierError

SEEDS = st.integers(min_value=0, max_value=2**32)


@given(SEEDS)
def test_every_fake_siren_is_valid_and_derives_a_matching_vat(seed: int) -> None:
    siren = identifiers.fake_siren(random.Random(seed))
    assert identifiers.clean_siren(siren) == siren
    vat = identifiers.vat_from_siren(siren)
    assert vat.startswith("FR") and vat.endswith(siren)
    identifiers.check_vat_matches_siren(vat, siren)
    assert identifiers.clean_vat(vat) == vat


@given(SEEDS, st.integers(min_value=0, max_value=8), st.integers(min_value=1, max_value=9))
def test_changing_one_siren_digit_breaks_the_luhn_checksum(seed: int, pos: int, delta: int) -> None:
    siren = identifiers.fake_siren(random.Random(seed))
    broken = siren[:pos] + str((int(siren[pos]) + delta) % 10) + siren[pos + 1 :]
    with pytest.raises(IdentifierError) as exc:
        identifiers.clean_siren(broken)
    assert exc.value.check == "checksum"
    assert exc.value.kind == "SIREN"
    assert str(exc.value).startswith("SIREN : clé de contrôle (Luhn) incorrecte")


@given(st.text(max_size=20))
def test_arbitrary_text_is_either_a_valid_siren_or_a_named_failure(text: str) -> None:
    try:
        value = identifiers.clean_siren(text)
    except IdentifierError as exc:
        assert exc.kind == "SIREN" and exc.check in {"length", "format", "checksum", "invalid"}
    else:
        assert len(value) == 9 and value.isdigit()


def test_siren_of_wrong_length_names_the_length_check() -> None:
    with override("en"), pytest.raises(IdentifierError, match="SIREN: wrong length") as exc:
        identifiers.clean_siren("12345")
    assert exc.value.check == "length"
    with pytest.raises(IdentifierError, match="SIREN : longueur incorrecte"):
        identifiers.clean_siren("12345")


def test_siret_must_start_with_its_siren() -> None:
    rng = random.Random(7)
    siren, other = identifiers.fake_siren(rng), identifiers.fake_siren(rng)
    siret = identifiers.fake_siret(rng, siren)
    assert identifiers.clean_siret(siret, siren) == siret
    with pytest.raises(IdentifierError) as exc:
        identifiers.clean_siret(siret, other)
    assert exc.value.check == "siren"


def test_spaces_are_accepted_in_identifiers() -> None:
    assert identifiers.clean_siren("732 829 320") == "732829320"
    assert (
        identifiers.clean_iban("FR76 3000 6000 0112 3456 7890 189") == "FR7630006000011234567890189"
    )


def test_vat_key_not_matching_the_siren_is_a_checksum_failure() -> None:
    with pytest.raises(IdentifierError) as exc:
        identifiers.check_vat_matches_siren("FR00732829320", "732829320")
    assert exc.value.check == "checksum"


def test_iban_with_wrong_check_digits_is_refused() -> None:
    with pytest.raises(IdentifierError, match=r"^IBAN :") as exc:
        identifiers.clean_iban("FR7630006000011234567890188")
    assert exc.value.kind == "IBAN" and exc.value.check == "InvalidChecksumDigits"


def test_bic_of_wrong_length_is_refused() -> None:
    with pytest.raises(IdentifierError, match=r"^BIC :"):
        identifiers.clean_bic("BNPAFR")


def test_an_invoice_number_gives_a_valid_iso11649_creditor_reference() -> None:
    from stdnum import iso11649

    from levier.lib.identifiers import creditor_reference

    reference = creditor_reference("F2026-000123")
    assert reference == "RF86F2026000123"
    assert iso11649.is_valid(reference)
    assert creditor_reference("av2026 000001").startswith("RF") and iso11649.is_valid(
        creditor_reference("av2026 000001")
    )
