"""Allowed status moves of disputes and promises to pay (one table each, checked here)."""

from __future__ import annotations

from levier.collections.choices import DisputeStatus, PromiseStatus
from levier.sales.transitions import InvalidTransition

DISPUTE_TRANSITIONS: dict[DisputeStatus, frozenset[DisputeStatus]] = {
    DisputeStatus.OPEN: frozenset({DisputeStatus.RESOLVED}),
    # Reopened when the customer does not accept the resolution; closed once it is applied.
    DisputeStatus.RESOLVED: frozenset({DisputeStatus.CLOSED, DisputeStatus.OPEN}),
    DisputeStatus.CLOSED: frozenset(),
}

PROMISE_TRANSITIONS: dict[PromiseStatus, frozenset[PromiseStatus]] = {
    PromiseStatus.OPEN: frozenset(
        {PromiseStatus.KEPT, PromiseStatus.BROKEN, PromiseStatus.CANCELLED}
    ),
    PromiseStatus.KEPT: frozenset(),
    PromiseStatus.BROKEN: frozenset(),
    PromiseStatus.CANCELLED: frozenset(),
}


def check_dispute_transition(current: str, target: str) -> None:
    if DisputeStatus(target) not in DISPUTE_TRANSITIONS[DisputeStatus(current)]:
        raise InvalidTransition("dispute", current, target)


def check_promise_transition(current: str, target: str) -> None:
    if PromiseStatus(target) not in PROMISE_TRANSITIONS[PromiseStatus(current)]:
        raise InvalidTransition("promise", current, target)
