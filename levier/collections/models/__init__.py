"""The collections app's tables, one module per subject."""

from levier.collections.models.bank import BankTransaction, StatementFile
from levier.collections.models.disputes import (
    CollectionNote,
    CollectionTask,
    Dispute,
    PromiseToPay,
)
from levier.collections.models.dunning import (
    CustomerScenario,
    DunningItem,
    DunningLock,
    DunningMessage,
    DunningRun,
    DunningScenario,
    DunningStep,
    LateInterestRate,
    StatementEmail,
)
from levier.collections.models.month_ends import MonthEnd, MonthEndItem
from levier.collections.models.payments import Allocation, MatchProposal, Payment

__all__ = [
    "Allocation",
    "BankTransaction",
    "CollectionNote",
    "CollectionTask",
    "CustomerScenario",
    "Dispute",
    "DunningItem",
    "DunningLock",
    "DunningMessage",
    "DunningRun",
    "DunningScenario",
    "DunningStep",
    "LateInterestRate",
    "MatchProposal",
    "MonthEnd",
    "MonthEndItem",
    "Payment",
    "PromiseToPay",
    "StatementEmail",
    "StatementFile",
]
