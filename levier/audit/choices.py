from django.db import models
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    UI = "ui", _("Web interface")
    API = "api", _("API")
    CLI = "cli", _("Command line")
    JOB = "job", _("Background job")
    SYSTEM = "system", _("System")


class Verb(models.TextChoices):
    CREATE = "create", _("Created")
    UPDATE = "update", _("Updated")
    TRANSITION = "transition", _("Status changed")
    APPROVE = "approve", _("Approved")
    REJECT = "reject", _("Rejected")
    MERGE = "merge", _("Merged")
    IMPORT = "import", _("Imported")
    SEND = "send", _("Sent")
    DELETE = "delete", _("Deleted")
