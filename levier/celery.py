"""The Celery application, used only when CELERY_BROKER_URL is set (see levier/jobs.py)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.schedules import crontab
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "levier.settings")


def beat_schedule() -> dict[str, dict[str, Any]]:
    """The periodic jobs of `celery beat`, at the hours the settings give.

    Built here rather than in settings so that `levier kpis` and the other commands, which
    read the settings, do not pay for importing Celery (about 0.1 s).
    """
    return {
        "daily-billing-run": {
            "task": "levier.billing.jobs.daily_billing_run",
            "schedule": crontab(hour=settings.LEVIER_BILLING_RUN_HOUR, minute=0),
        },
        "daily-dunning-run": {
            "task": "levier.collections.jobs_dunning.daily_dunning_run",
            "schedule": crontab(hour=settings.LEVIER_DUNNING_RUN_HOUR, minute=0),
        },
        # Mondays: the week's KPI snapshot, then the PDF report emailed to the Direction.
        "weekly-kpi-report": {
            "task": "levier.kpis.jobs.weekly_kpi_report",
            "schedule": crontab(day_of_week="mon", hour=settings.LEVIER_KPI_REPORT_HOUR, minute=30),
        },
    }


app = Celery("levier")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.beat_schedule = beat_schedule()
app.autodiscover_tasks(
    lambda: ["levier.sales", "levier.billing", "levier.collections", "levier.kpis"],
    related_name="jobs",
)
