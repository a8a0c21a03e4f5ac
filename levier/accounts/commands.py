"""Who a command-line run is recorded as in the audit trail."""

from __future__ import annotations

from django.core.management.base import CommandError

from levier.accounts.choices import Role
from levier.accounts.models import User
from levier.accounts.permissions import MATRIX, Action, action_label


def command_actor(username: str, action: Action, prefer: Role | None = None) -> User:
    """`--user USERNAME`, else the first active user whose role may do `action`.

    `prefer` picks that role first when several may (the customer import defaults to the
    Administrateur, as it always has). The service still checks the permission.
    """
    users = User.objects.filter(is_active=True)
    if username:
        user = users.filter(username=username).first()
        if user is None:
            raise CommandError(f"--user {username}: no such active user")
        return user
    allowed = users.filter(role__in=MATRIX[action]).order_by("pk")
    user = (allowed.filter(role=prefer).first() if prefer else None) or allowed.first()
    if user is None:
        raise CommandError(f"no active user may {action_label(action)}: create one or pass --user")
    return user
