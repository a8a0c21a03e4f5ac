"""`levier worker`: run the background jobs queued on the broker (CELERY_BROKER_URL)."""

from __future__ import annotations

import argparse
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from levier.celery import app as celery_app

LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


class Command(BaseCommand):
    help = (
        "Start a Celery worker consuming Levier's job queue (CELERY_QUEUE, default 'levier') "
        "on the broker set by CELERY_BROKER_URL."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--concurrency",
            type=positive_int,
            default=None,
            help="Number of worker processes (default: one per CPU).",
        )
        parser.add_argument(
            "--loglevel", type=str.upper, choices=LOG_LEVELS, default="INFO", help="Log level."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.CELERY_BROKER_URL:
            # Without a broker `levier.jobs.dispatch` runs every job inside the web process:
            # a worker would start, consume nothing, and hide the misconfiguration.
            raise CommandError(
                "CELERY_BROKER_URL is not set: jobs run in-process in the web server, so there "
                "is no queue for a worker. Set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0) "
                "for both the web server and the worker."
            )
        # The queue `dispatch` sends to; Celery's own default ("celery") would leave every
        # Levier job waiting forever.
        worker = celery_app.Worker(
            queues=[settings.CELERY_TASK_DEFAULT_QUEUE],
            concurrency=options["concurrency"],
            loglevel=options["loglevel"],
        )
        worker.start()
        if worker.exitcode:
            raise SystemExit(worker.exitcode)
