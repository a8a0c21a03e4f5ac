"""Name normalization and duplicate detection for the customer master.

Kept apart from the services because both the interactive creation and the CSV import use
it, and because it is pure enough to test without thinking about transactions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
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
    small set, against the stored `search_name` (no re-normalization of every candidate).
    """
    index = DuplicateIndex.load(
        [_digits(data.get("siren"))],
        [str(data.get("postcode") or "").strip()],
        exclude_pk=exclude_pk,
        per_siren=50,
        per_postcode=MAX_POSTCODE_CANDIDATES,
    )
    return index.find(data)


def _digits(value: Any) -> str:
    return re.sub(r"\D", "", str(value or ""))


# Ids per IN (...) query: well below SQLite's bound-parameter limit (32766), so a file of up
# to 50,000 rows needs a handful of queries however many rows it has.
_IN_CHUNK = 10_000


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


class DuplicateIndex:
    """The active customers sharing a SIREN or a postcode with a batch of candidates.

    Loaded with one query for all the SIRENs and one for all the postcodes (the CSV import
    checks every row of a file against it in memory), then `find` matches one candidate.
    Names are compared through the stored, indexed `search_name` (`normalize_name` of the
    legal name, written by `clean_customer`); only non-empty trade names are normalized,
    once per customer.
    """

    _FIELDS = ("pk", "name", "trade_name", "search_name", "siren", "postcode", "city")

    def __init__(self) -> None:
        self.by_siren: dict[str, list[Customer]] = {}
        # postcode → [(customer, normalized legal name, normalized trade name)]
        self.by_postcode: dict[str, list[tuple[Customer, str, str]]] = {}

    @classmethod
    def load(
        cls,
        sirens: Iterable[str],
        postcodes: Iterable[str],
        *,
        exclude_pk: int | None = None,
        per_siren: int | None = None,
        per_postcode: int | None = None,
    ) -> DuplicateIndex:
        """`per_*` cap the rows loaded (only meaningful for a single SIREN / postcode)."""
        index = cls()
        base = Customer.objects.filter(is_active=True).only(*cls._FIELDS).order_by("pk")
        if exclude_pk is not None:
            base = base.exclude(pk=exclude_pk)
        wanted_sirens = sorted({s for s in sirens if len(s) == 9})
        for chunk in _chunks(wanted_sirens):
            rows = base.filter(siren__in=chunk)
            for customer in rows[:per_siren] if per_siren else rows:
                index.by_siren.setdefault(customer.siren, []).append(customer)
        wanted_postcodes = sorted({p for p in postcodes if p})
        for chunk in _chunks(wanted_postcodes):
            rows = base.filter(postcode__in=chunk)
            for customer in rows[:per_postcode] if per_postcode else rows:
                index.by_postcode.setdefault(customer.postcode, []).append(
                    (
                        customer,
                        customer.search_name or normalize_name(customer.name),
                        normalize_name(customer.trade_name) if customer.trade_name else "",
                    )
                )
        return index

    def find(self, data: Mapping[str, Any]) -> list[DuplicateCandidate]:
        siren = _digits(data.get("siren"))
        postcode = str(data.get("postcode") or "").strip()
        wanted = normalize_name(str(data.get("name") or ""))
        found: dict[int, DuplicateCandidate] = {}
        if len(siren) == 9:
            for customer in self.by_siren.get(siren, []):
                found[customer.pk] = DuplicateCandidate(
                    customer,
                    Certainty.CERTAIN,
                    gettext("same SIREN %(siren)s") % {"siren": siren},
                    100.0,
                )
        if postcode and wanted:
            for customer, name, trade in self.by_postcode.get(postcode, []):
                if customer.pk in found:
                    continue
                score = max(
                    fuzz.token_sort_ratio(wanted, name),
                    fuzz.token_sort_ratio(wanted, trade) if trade else 0.0,
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
