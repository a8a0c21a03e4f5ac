"""Input builders shared by the customer tests: valid by default, override what the test is about."""

from __future__ import annotations

import random
from typing import Any

from levier.lib.identifiers import fake_siren, fake_siret

_rng = random.Random(424242)

# A real, valid French IBAN/BIC pair format (test bank data, not a real account).
IBAN = "FR7630006000011234567890189"
BIC = "BNPAFRPPXXX"


def new_siren() -> str:
    return fake_siren(_rng)


def new_siret(siren: str) -> str:
    return fake_siret(_rng, siren)


def customer_data(**overrides: Any) -> dict[str, Any]:
    siren = overrides["siren"] if "siren" in overrides else new_siren()
    data: dict[str, Any] = {
        "name": "Boulangerie Martin SARL",
        "siren": siren,
        "siret": "" if "siret" in overrides else new_siret(siren),
        "address_line1": "3 rue des Lilas",
        "postcode": "33000",
        "city": "Bordeaux",
        "country": "FR",
        "payment_terms_days": "30",
        "payment_terms_basis": "net",
    }
    data.update(overrides)
    return data
