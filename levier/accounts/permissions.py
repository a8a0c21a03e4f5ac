"""The permission matrix: who may do what. docs/roles.md is generated from this table.

Enforced in the service layer by `require()`, so a hidden button is never the only guard.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from django.utils.translation import gettext

from levier.accounts.choices import Role

if TYPE_CHECKING:
    from levier.accounts.models import User


class Action(StrEnum):
    VIEW = "view"  # read customers, catalog, orders, audit trail
    MANAGE_CUSTOMER = "manage_customer"  # create / edit customers and their contacts
    # Payment terms, credit limit and strategic flag decide whether Comptabilité must approve
    # an order (levier/sales/circuit.py), so sales may not set them on their own customers.
    EDIT_CREDIT_TERMS = "edit_credit_terms"
    IMPORT_CUSTOMERS = "import_customers"
    MERGE_CUSTOMERS = "merge_customers"
    MANAGE_CATALOG = "manage_catalog"
    EDIT_ORDER = "edit_order"  # create quotes / orders, edit drafts, convert a quote
    SUBMIT_ORDER = "submit_order"
    APPROVE_AS_ADV = "approve_as_adv"
    APPROVE_AS_COMPTABILITE = "approve_as_comptabilite"
    APPROVE_AS_DIRECTION = "approve_as_direction"
    ISSUE_INVOICE = "issue_invoice"  # draft, issue (number) and discard invoices
    CREATE_CREDIT_NOTE = "create_credit_note"  # correct an issued invoice
    MANAGE_CONTRACTS = "manage_contracts"  # contracts, amendments, milestones, deliveries, T&M
    ARCHIVE_DOCUMENT = "archive_document"  # add a signed contract or amendment to the archive
    MANAGE_INDEXES = "manage_indexes"  # enter published index values (Syntec…)
    RUN_BILLING = "run_billing"  # run the billing engine: drafts from what is billable
    SEND_INVOICE = "send_invoice"  # send or resend issued documents on the customer's channel
    MANAGE_COMPANY = "manage_company"  # the seller's legal identity printed on invoices
    IMPORT_BANK_STATEMENTS = "import_bank_statements"  # camt.053, CFONB 120, OFX files in
    VIEW_COLLECTIONS = "view_collections"  # payments, matching, reminders, the collector's day
    RECORD_PAYMENT = "record_payment"  # enter a cheque, card or transfer received by hand
    MATCH_PAYMENTS = "match_payments"  # match, confirm, split and unmatch payments (lettrage)
    RUN_DUNNING = "run_dunning"  # run the reminders, preview them, handle collection tasks
    MANAGE_DUNNING = "manage_dunning"  # dunning scenarios, their texts, the interest rates
    MANAGE_DISPUTES = "manage_disputes"  # open, resolve and close disputes
    FOLLOW_UP_ACCOUNT = "follow_up_account"  # promises to pay, call notes, account statements
    VIEW_KPIS = "view_kpis"  # the KPI dashboard, its drill-down lists and exports
    MANAGE_KPI_SETTINGS = "manage_kpi_settings"  # KPI thresholds, weekly report recipients
    # The ADV structuring audit (a FEC or Levier's data): run it, keep it, reopen it. A
    # diagnosis, not a business write: the read-only Auditeur may, like every reading role.
    RUN_ADV_AUDIT = "run_adv_audit"
    MANAGE_RULES = "manage_rules"  # approval rules and procedure sheets
    MANAGE_USERS = "manage_users"


_ALL = frozenset(Role)
_C, _A, _K, _D, _ADM = (
    Role.COMMERCIAL,
    Role.ADV,
    Role.COMPTABILITE,
    Role.DIRECTION,
    Role.ADMINISTRATEUR,
)

MATRIX: dict[Action, frozenset[Role]] = {
    Action.VIEW: _ALL,
    Action.MANAGE_CUSTOMER: frozenset({_C, _A, _K, _ADM}),
    Action.EDIT_CREDIT_TERMS: frozenset({_K, _ADM}),
    Action.IMPORT_CUSTOMERS: frozenset({_A, _ADM}),
    Action.MERGE_CUSTOMERS: frozenset({_A, _ADM}),
    Action.MANAGE_CATALOG: frozenset({_A, _ADM}),
    Action.EDIT_ORDER: frozenset({_C, _A}),
    Action.SUBMIT_ORDER: frozenset({_C, _A}),
    Action.APPROVE_AS_ADV: frozenset({_A}),
    Action.APPROVE_AS_COMPTABILITE: frozenset({_K}),
    Action.APPROVE_AS_DIRECTION: frozenset({_D}),
    Action.ISSUE_INVOICE: frozenset({_A}),
    Action.CREATE_CREDIT_NOTE: frozenset({_A, _K}),
    Action.MANAGE_CONTRACTS: frozenset({_A}),
    Action.ARCHIVE_DOCUMENT: frozenset({_C, _A}),
    Action.MANAGE_INDEXES: frozenset({_A, _K}),
    Action.RUN_BILLING: frozenset({_A}),
    Action.SEND_INVOICE: frozenset({_A, _K}),
    Action.MANAGE_COMPANY: frozenset({_ADM}),
    Action.IMPORT_BANK_STATEMENTS: frozenset({_K}),
    Action.VIEW_COLLECTIONS: frozenset({_K, _D, _ADM, Role.AUDITEUR}),
    Action.RECORD_PAYMENT: frozenset({_K}),
    Action.MATCH_PAYMENTS: frozenset({_K}),
    Action.RUN_DUNNING: frozenset({_K}),
    Action.MANAGE_DUNNING: frozenset({_K, _ADM}),
    Action.MANAGE_DISPUTES: frozenset({_C, _A, _K}),
    Action.FOLLOW_UP_ACCOUNT: frozenset({_C, _A, _K, _D}),
    Action.VIEW_KPIS: _ALL,
    Action.MANAGE_KPI_SETTINGS: frozenset({_ADM}),
    Action.RUN_ADV_AUDIT: frozenset({_D, _ADM, Role.AUDITEUR}),
    Action.MANAGE_RULES: frozenset({_ADM}),
    Action.MANAGE_USERS: frozenset({_ADM}),
}

APPROVAL_ACTION: dict[Role, Action] = {
    Role.ADV: Action.APPROVE_AS_ADV,
    Role.COMPTABILITE: Action.APPROVE_AS_COMPTABILITE,
    Role.DIRECTION: Action.APPROVE_AS_DIRECTION,
}


class PermissionDenied(Exception):
    """The actor's role does not allow this action (HTTP 403 in the web layer).

    The message is in the active language and names the role and what it may not do, e.g.
    « Le rôle ADV ne permet pas : modifier les règles de validation … (utilisateur t_adv) ».
    `action` keeps the machine-readable Action; `field`, when given, is the label of the field
    whose change was refused (e.g. the credit limit for `EDIT_CREDIT_TERMS`).
    """

    def __init__(self, actor: User | None, action: Action, field: str = "") -> None:
        self.action = action
        self.actor = actor
        # The field whose change was refused (its label), when the action guards some fields.
        self.field = field
        message = denial_message(actor, action)
        if field:
            message = gettext("%(refusal)s; field concerned: %(field)s") % {
                "refusal": message,
                "field": field,
            }
        super().__init__(message)


def action_label(action: Action) -> str:
    """What the action lets one do, in the active language, starting lowercase."""
    from levier.accounts.docs import ACTION_LABELS  # docs imports this module

    text = str(ACTION_LABELS[action])
    return text[:1].lower() + text[1:]


def role_label(role: str) -> str:
    """The short role name users know (ADV, Comptabilité…), as on the roles page."""
    from levier.accounts.docs import ROLE_COLUMNS

    return next((str(label) for r, label in ROLE_COLUMNS if r == role), role)


def denial_message(actor: User | None, action: Action) -> str:
    what = action_label(action)
    if actor is None:
        return gettext("Sign in first: not allowed to %(action)s") % {"action": what}
    if not actor.is_active:
        return gettext("The account %(user)s is deactivated: not allowed to %(action)s") % {
            "user": actor.username,
            "action": what,
        }
    return gettext("The %(role)s role does not allow: %(action)s (user %(user)s)") % {
        "role": role_label(actor.role),
        "action": what,
        "user": actor.username,
    }


def can(actor: User | None, action: Action) -> bool:
    if actor is None or not actor.is_active:
        return False
    return Role(actor.role) in MATRIX[action]


def require(actor: User | None, action: Action) -> None:
    if not can(actor, action):
        raise PermissionDenied(actor, action)
