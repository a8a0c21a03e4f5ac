"""The Celery application, used only when CELERY_BROKER_URL is set (see levier/jobs.py)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "levier.settings")

app = Celery("levier")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(
    lambda: ["levier.sales", "levier.billing", "levier.collections", "levier.kpis"],
    related_name="jobs",
)
