"""The permission matrix as Markdown, so docs/roles.md is generated, never out of date.

The action labels are translatable: the refusal message of `PermissionDenied` shows them in
the user's language, while docs/roles.md is always generated in English.
"""

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import override

from levier.accounts.choices import Role
from levier.accounts.permissions import MATRIX, Action

ACTION_LABELS: dict[Action, Promise] = {
    Action.VIEW: _("See customers, catalog, quotes, orders and their audit trail"),
    Action.MANAGE_CUSTOMER: _("Create and edit customers, contacts, delivery addresses"),
    Action.EDIT_CREDIT_TERMS: _("Set payment terms, credit limit and strategic flag"),
    Action.IMPORT_CUSTOMERS: _("Import customers from CSV"),
    Action.MERGE_CUSTOMERS: _("Merge duplicate customers"),
    Action.MANAGE_CATALOG: _("Create and edit catalog products"),
    Action.EDIT_ORDER: _(
        "Create quotes and orders, edit drafts, convert quotes (sales: own documents only)"
    ),
    Action.SUBMIT_ORDER: _("Submit an order to the validation circuit (sales: own orders only)"),
    Action.APPROVE_AS_ADV: _("Decide the ADV check step"),
    Action.APPROVE_AS_COMPTABILITE: _("Decide the accounting step (terms, credit limit)"),
    Action.APPROVE_AS_DIRECTION: _("Decide the management step (amount, discount)"),
    Action.ISSUE_INVOICE: _("Prepare, issue and discard invoices"),
    Action.CREATE_CREDIT_NOTE: _("Correct an issued invoice with a credit note"),
    Action.MANAGE_CONTRACTS: _(
        "Create and amend contracts; record deliveries, milestones reached and time spent"
    ),
    Action.ARCHIVE_DOCUMENT: _("Archive a signed contract or amendment (never deletable)"),
    Action.MANAGE_INDEXES: _("Enter published price index values (Syntec…)"),
    Action.RUN_BILLING: _("Run the billing engine (drafts from what is billable)"),
    Action.SEND_INVOICE: _("Send or resend issued invoices and credit notes"),
    Action.MANAGE_COMPANY: _("Edit the company's legal identity printed on invoices"),
    Action.IMPORT_BANK_STATEMENTS: _("Import bank statements (camt.053, CFONB 120, OFX)"),
    Action.VIEW_COLLECTIONS: _("See payments, matching, reminders and the collector's day"),
    Action.RECORD_PAYMENT: _("Record a payment received (cheque, card, transfer)"),
    Action.MATCH_PAYMENTS: _("Match payments to invoices, confirm, split or unmatch them"),
    Action.RUN_DUNNING: _("Run and preview reminders, handle collection tasks"),
    Action.MANAGE_DUNNING: _("Edit dunning scenarios, their texts and the interest rate table"),
    Action.MANAGE_DISPUTES: _("Open, resolve and close disputes"),
    Action.FOLLOW_UP_ACCOUNT: _("Record promises to pay and call notes, send account statements"),
    Action.VIEW_KPIS: _(
        "See the KPI dashboard, open the documents behind each figure, export them"
    ),
    Action.MANAGE_KPI_SETTINGS: _("Set the KPI thresholds and the weekly report recipients"),
    Action.RUN_ADV_AUDIT: _(
        "Run the ADV structuring audit (a FEC or Levier's data), reopen and download past audits"
    ),
    Action.MANAGE_RULES: _("Edit validation rules and procedure sheets"),
    Action.MANAGE_USERS: _("Manage users and their roles"),
}

ROLE_COLUMNS = [
    (Role.COMMERCIAL, "Commercial"),
    (Role.ADV, "ADV"),
    (Role.COMPTABILITE, "Comptabilité"),
    (Role.DIRECTION, "Direction"),
    (Role.ADMINISTRATEUR, "Administrateur"),
    (Role.AUDITEUR, "Auditeur"),
]


def matrix_markdown() -> str:
    with override("en"):
        return _matrix_markdown()


def _matrix_markdown() -> str:
    header = "| Action | " + " | ".join(label for _, label in ROLE_COLUMNS) + " |"
    rule = "|---|" + "---|" * len(ROLE_COLUMNS)
    rows = [
        f"| {ACTION_LABELS[action]} (`{action.value}`) | "
        + " | ".join("✔" if role in MATRIX[action] else "" for role, _ in ROLE_COLUMNS)
        + " |"
        for action in Action
    ]
    return "\n".join([header, rule, *rows]) + "\n"
