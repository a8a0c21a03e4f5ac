"""Allowed status moves of contracts (one table, checked in one place)."""

from __future__ import annotations

from levier.contracts.choices import ContractStatus
from levier.sales.transitions import InvalidTransition

CONTRACT_TRANSITIONS: dict[ContractStatus, frozenset[ContractStatus]] = {
    ContractStatus.ACTIVE: frozenset({ContractStatus.NOTICE_GIVEN, ContractStatus.ENDED}),
    ContractStatus.NOTICE_GIVEN: frozenset({ContractStatus.ENDED}),
    ContractStatus.ENDED: frozenset(),
}


def check_contract_transition(current: str, target: str) -> None:
    if ContractStatus(target) not in CONTRACT_TRANSITIONS[ContractStatus(current)]:
        raise InvalidTransition("contract", current, target)
