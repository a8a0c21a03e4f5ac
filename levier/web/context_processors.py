from typing import Any

from django.conf import settings
from django.http import HttpRequest

from levier.accounts.permissions import Action, can


def levier(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    actor = user if user is not None and user.is_authenticated else None
    return {
        "company_name": settings.LEVIER_COMPANY_NAME,
        "demo_mode": settings.DEMO_MODE,
        "perms_levier": {action.value: can(actor, action) for action in Action},
    }
