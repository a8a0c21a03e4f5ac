"""Name normalization and duplicate detection for the customer master.

Kept apart from the services because both the interactive creation and the CSV import use
it, and because it is pure enough to test without thinking about transactions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.utils.translation import gettext, pgettext_lazy
from rapidfuzz import fuzz

from levier.customers.models import Customer

# Legal forms say nothing about who the customer is: "Dupont SAS" and "DUPONT S.A.S." are
# the same company, so they are dropped before comparing names.
LEGAL_FORMS = frozenset(
    {
        "sa",
        "sas",
        "sasu",
        "sarl",
        "eurl",
        "snc",
        "sci",
        "scop",
        "sca",
        "scs",
        "selarl",
        "selas",
        "gie",
        "ei",
        "eirl",
        "scp",
    }
)
# Dotted spellings ("S.A.R.L.", "s.a.s") are collapsed before the punctuation is removed.
_DOTTED = re.compile(r"\b((?:[a-z]\.){2,}[a-z]?\.?)")
_NOT_WORD = re.compile(r"[^a-z0-9]+")

# token_sort_ratio at or above this, with the same postcode, is a probable duplicate.
PROBABLE_THRESHOLD = 85.0
# A postcode holds at most a few thousand customers; past this we compare the first ones only
# rather than loading a whole city into memory on every keystroke.
MAX_POSTCODE_CANDIDATES = 5000


def normalize_name(name: str) -> str:
    """Lowercase, accents stripped, legal forms removed, punctuation collapsed to one space."""
    text = unicodedata.normalize("NFKD", name or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = _DOTTED.sub(lambda m: m.group(1).replace(".", ""), text)
    words = [w for w in _NOT_WORD.split(text) if w and w not in LEGAL_FORMS]
    return " ".join(words)[:200]


class Certainty(StrEnum):
    CERTAIN = "certain"  # same SIREN: the same legal entity
    PROBABLE = "probable"  # similar name in the same postcode: a person should look


CERTAINTY_LABELS = {
    Certainty.CERTAIN: pgettext_lazy("duplicate", "certain"),
    Certainty.PROBABLE: pgettext_lazy("duplicate", "probable"),
}


@dataclass(frozen=True)
class DuplicateCandidate:
    customer: Customer
    certainty: Certainty
    reason: str  # in the language active when it was found
    score: float  # 100 for a SIREN match, the name similarity otherwise


def find_duplicates(
    data: Mapping[str, Any], *, exclude_pk: int | None = None
) -> list[DuplicateCandidate]:
    """Active customers that look like the one described by `data` (certain first).

    Only two indexed lookups are made, by SIREN and by postcode, so the check stays cheap
    however large the customer master grows; the fuzzy comparison runs in Python on that
    small set.
    """
    siren = re.sub(r"\D", "", str(data.get("siren") or ""))
    postcode = str(data.get("postcode") or "").strip()
    wanted = normalize_name(str(data.get("name") or ""))
    found: dict[int, DuplicateCandidate] = {}

    base = Customer.objects.filter(is_active=True)
    if exclude_pk is not None:
        base = base.exclude(pk=exclude_pk)
    if len(siren) == 9:
        for customer in base.filter(siren=siren).order_by("pk")[:50]:
            found[customer.pk] = DuplicateCandidate(
                customer,
                Certainty.CERTAIN,
                gettext("same SIREN %(siren)s") % {"siren": siren},
                100.0,
            )
    if postcode and wanted:
        rows = (
            base.filter(postcode=postcode)
            .only("pk", "name", "trade_name", "siren", "postcode", "city")
            .order_by("pk")[:MAX_POSTCODE_CANDIDATES]
        )
        for customer in rows:
            if customer.pk in found:
                continue
            score = max(
                fuzz.token_sort_ratio(wanted, normalize_name(customer.name)),
                fuzz.token_sort_ratio(wanted, normalize_name(customer.trade_name))
                if customer.trade_name
                else 0.0,
            )
            if score >= PROBABLE_THRESHOLD:
                found[customer.pk] = DuplicateCandidate(
                    customer,
                    Certainty.PROBABLE,
                    gettext("similar name (%(score)s %%) with the same postcode %(postcode)s")
                    % {"score": f"{score:.0f}", "postcode": postcode},
                    float(score),
                )
    return sorted(found.values(), key=lambda c: (c.certainty != Certainty.CERTAIN, -c.score))
