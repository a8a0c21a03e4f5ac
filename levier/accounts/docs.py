"""The permission matrix as Markdown, so docs/roles.md is generated, never out of date."""

from levier.accounts.choices import Role
from levier.accounts.permissions import MATRIX, Action

ACTION_LABELS: dict[Action, str] = {
    Action.VIEW: "See customers, catalog, quotes, orders and their audit trail",
    Action.MANAGE_CUSTOMER: "Create and edit customers, contacts, delivery addresses",
    Action.IMPORT_CUSTOMERS: "Import customers from CSV",
    Action.MERGE_CUSTOMERS: "Merge duplicate customers",
    Action.MANAGE_CATALOG: "Create and edit catalog products",
    Action.EDIT_ORDER: "Create quotes and orders, edit drafts, convert quotes (sales: own documents only)",
    Action.SUBMIT_ORDER: "Submit an order to the validation circuit (sales: own orders only)",
    Action.APPROVE_AS_ADV: "Decide the ADV check step",
    Action.APPROVE_AS_COMPTABILITE: "Decide the accounting step (terms, credit limit)",
    Action.APPROVE_AS_DIRECTION: "Decide the management step (amount, discount)",
    Action.MANAGE_RULES: "Edit validation rules and procedure sheets",
    Action.MANAGE_USERS: "Manage users and their roles",
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
    header = "| Action | " + " | ".join(label for _, label in ROLE_COLUMNS) + " |"
    rule = "|---|" + "---|" * len(ROLE_COLUMNS)
    rows = [
        f"| {ACTION_LABELS[action]} (`{action.value}`) | "
        + " | ".join("✔" if role in MATRIX[action] else "" for role, _ in ROLE_COLUMNS)
        + " |"
        for action in Action
    ]
    return "\n".join([header, rule, *rows]) + "\n"
