"""Who paid: by the IBAN the money came from, else by a name that looks like a customer's.

An IBAN is strong evidence (the customer master's, or one a payment already matched to the
customer came from); an IBAN several customers share (a group paying for its subsidiaries)
is no evidence at all. A name is only probable: banks truncate, upper-case and misspell it,
so it never lets the matcher allocate on its own.
"""

from __future__ import annotations

import copy
import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from rapidfuzz import fuzz, process

from levier.customers.matching import normalize_name

NAME_THRESHOLD = 90.0
# Another customer this close to the best one makes the name ambiguous.
NAME_MARGIN = 5.0
# Words banks add to names that say nothing about which company it is.
_NOISE = frozenset({"ste", "societe", "ets"})
_SHORTEST_FUZZY = 4


class Evidence(StrEnum):
    CUSTOMER = "customer"  # a person set the customer on the payment
    IBAN = "iban"
    NAME = "name"


@dataclass(frozen=True)
class Payer:
    customer_id: int
    evidence: Evidence
    score: float = 100.0  # name similarity, 100 for an IBAN

    @property
    def strong(self) -> bool:
        return self.evidence != Evidence.NAME


def compact_iban(value: str) -> str:
    return "".join(ch for ch in value.upper() if ch.isalnum())


def name_key(name: str) -> str:
    """Normalised words in alphabetical order: token_sort_ratio's work done once per name."""
    words = [w for w in normalize_name(name).split() if w not in _NOISE]
    return " ".join(sorted(words))


class PayerIndex:
    """IBANs and names of the customers, built once per run."""

    def __init__(
        self,
        customers: Iterable[tuple[int, str, str, str]],
        known_ibans: Iterable[tuple[str, int]],
    ) -> None:
        """`customers`: (id, name, trade name, IBAN); `known_ibans`: (IBAN, customer id)."""
        self.ibans: dict[str, frozenset[int]] = {}
        self.learnt = 0  # how many times an IBAN was added (what a guess depends on)
        self.keys: list[str] = []
        self.key_owners: list[int] = []
        self.exact: dict[str, set[int]] = {}
        self.names: dict[int, list[str]] = {}
        for customer_id, name, trade_name, iban in customers:
            self.learn(iban, customer_id)
            for text in (name, trade_name):
                key = name_key(text) if text else ""
                if not key:
                    continue
                self.keys.append(key)
                self.key_owners.append(customer_id)
                self.exact.setdefault(key, set()).add(customer_id)
                self.names.setdefault(customer_id, []).append(key)
        for iban, customer_id in known_ibans:
            self.learn(iban, customer_id)
        self._by_name: dict[str, tuple[int, float] | None] = {}

    def fork(self) -> PayerIndex:
        """A copy whose IBANs learnt during one run do not leak into the next."""
        other = copy.copy(self)
        other.ibans = dict(self.ibans)
        return other

    def learn(self, iban: str, customer_id: int, *, if_unknown: bool = False) -> None:
        """Whose account this IBAN is (the master, or a payment matched for certain).

        `if_unknown`: only for an IBAN nobody owns yet. A run learns that way, so that one
        payment made for a subsidiary does not make the group's IBAN ambiguous for the
        payments after it in the same run (the next run, loading history, will).
        """
        key = compact_iban(iban)
        owners = self.ibans.get(key, frozenset())
        if if_unknown and owners:
            return
        if key and customer_id not in owners:
            self.ibans[key] = owners | {customer_id}
            self.learnt += 1

    def owners(self, iban: str) -> frozenset[int]:
        return self.ibans.get(compact_iban(iban), frozenset()) if iban else frozenset()

    def identify(self, *, customer_id: int | None, iban: str, name: str) -> Payer | None:
        if customer_id is not None:
            return Payer(customer_id, Evidence.CUSTOMER)
        owners = self.owners(iban)
        if len(owners) == 1:
            return Payer(next(iter(owners)), Evidence.IBAN)
        found = self.by_name(name)
        if found is None:
            return None
        return Payer(found[0], Evidence.NAME, found[1])

    def by_name(self, name: str) -> tuple[int, float] | None:
        key = name_key(name)
        if not key:
            return None
        if key not in self._by_name:
            self._by_name[key] = self._search(key)
        return self._by_name[key]

    def _search(self, key: str) -> tuple[int, float] | None:
        exact = self.exact.get(key, set())
        if len(exact) == 1:
            return next(iter(exact)), 100.0
        if exact or len(key) < _SHORTEST_FUZZY:
            return None  # two customers bear that very name, or too short to compare
        best: dict[int, float] = {}
        for _choice, score, index in process.extract(
            key,
            self.keys,
            scorer=fuzz.ratio,
            processor=None,
            score_cutoff=NAME_THRESHOLD,
            limit=10,
        ):
            owner = self.key_owners[index]
            best[owner] = max(score, best.get(owner, 0.0))
        ranked = sorted(best.items(), key=lambda item: -item[1])
        if not ranked or (len(ranked) > 1 and ranked[0][1] - ranked[1][1] < NAME_MARGIN):
            return None
        return ranked[0]

    def similarity(self, customer_id: int, name: str) -> float:
        """How much `name` looks like this customer's (0 to 100)."""
        key = name_key(name)
        if not key:
            return 0.0
        return max((fuzz.ratio(key, k) for k in self.names.get(customer_id, [])), default=0.0)


def unique_subset(
    amounts: list[int], target: int, *, max_size: int = 6, budget: int = 20_000
) -> list[int] | None:
    """Positions of the only subset of 2..max_size amounts (cents) summing to `target`.

    None when there is no such subset, when there are several (the payer's intent is then a
    guess), or when the search spent its budget before knowing. Amounts are positive; the
    search takes them in ascending order, closes each partial subset by bisecting for the
    amount still missing, and abandons a branch as soon as it must overshoot or cannot reach.
    """
    order = sorted(range(len(amounts)), key=lambda i: amounts[i])
    values = [amounts[i] for i in order]
    most = _largest_sums(values, max_size)
    if len(values) < 2 or target < values[0] + values[1] or target > most[max_size]:
        return None
    found: list[list[int]] = []
    steps = 0

    def search(start: int, chosen: list[int], remaining: int) -> bool:
        """False to stop everything (a second subset, or out of budget)."""
        nonlocal steps
        if chosen:  # one more amount, exactly what is missing, closes a subset
            lo = bisect_left(values, remaining, start)
            for position in range(lo, bisect_right(values, remaining, lo)):
                found.append([*chosen, position])
                if len(found) > 1:
                    return False
        if len(chosen) + 2 > max_size:
            return True
        room = max_size - len(chosen) - 1  # amounts that may still follow this one
        for position in range(start, len(values)):
            steps += 1
            if steps > budget:
                return False
            value = values[position]
            if 2 * value > remaining:
                break  # another amount at least as large must follow
            if value + most[room] < remaining:
                continue  # even the largest amounts cannot complete it
            if not search(position + 1, [*chosen, position], remaining - value):
                return False
        return True

    if not search(0, [], target) or len(found) != 1:
        return None
    return sorted(order[p] for p in found[0])


def _largest_sums(values: list[int], max_size: int) -> list[int]:
    """[0, largest, largest two, …]: the most `k` amounts can add up to."""
    top = sorted(values, reverse=True)[:max_size]
    sums = [0]
    for value in top:
        sums.append(sums[-1] + value)
    sums += [sums[-1]] * (max_size + 1 - len(sums))
    return sums


# Below 1 € of spread, amounts are "all the same" (a monthly fee): any combination of as
# many of them makes the amount, whichever the payer meant.
_SMALLEST_SPREAD = 100.0


def coincidences(amounts: list[int], target: int, *, max_size: int = 6) -> float:
    """How many combinations of 2..max_size amounts would make `target` by pure chance.

    A unique combination proves little when the payer has dozens of open invoices: among
    the 245,000 combinations of up to 6 of 25 invoices, one often makes any amount to the
    cent, so a partial payment or one for an invoice outside the window "finds" invoices
    it never paid. The estimate treats a sum of k amounts as normal (mean k·μ, variance
    k·σ²) and adds, over k, C(n, k) times the chance of hitting the target to the cent.
    """
    n = len(amounts)
    if n < 2:
        return 0.0
    mean = sum(amounts) / n
    spread = max(math.sqrt(sum((a - mean) ** 2 for a in amounts) / n), _SMALLEST_SPREAD)
    expected = 0.0
    for k in range(2, min(max_size, n) + 1):
        deviation = spread * math.sqrt(k)
        z = (target - k * mean) / deviation
        expected += math.comb(n, k) * math.exp(-z * z / 2) / (math.sqrt(2 * math.pi) * deviation)
    return expected
