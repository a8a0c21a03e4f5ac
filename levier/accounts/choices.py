from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    # Sells: owns quotes and draft orders, submits them, never approves.
    COMMERCIAL = "commercial", _("Sales")
    # Administration des ventes: checks every order, runs the contract's life.
    ADV = "adv", _("Sales administration (ADV)")
    # Accounting: payment terms, credit exposure, collections.
    COMPTABILITE = "comptabilite", _("Accounting")
    # Management: approves what is outside policy (big amounts, big discounts).
    DIRECTION = "direction", _("Management")
    # Configures rules, procedure sheets and users; not a business approver by default.
    ADMINISTRATEUR = "administrateur", _("Administrator")
    # Read-only: consultants and auditors.
    AUDITEUR = "auditeur", _("Auditor (read-only)")
