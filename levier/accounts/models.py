from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from levier.accounts.choices import Role


class User(AbstractUser):
    """A Levier user has exactly one role; the permission matrix is keyed on it."""

    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.AUDITEUR)

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def role_enum(self) -> Role:
        return Role(self.role)
