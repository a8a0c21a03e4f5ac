"""Background jobs: in-process by default, on Celery workers when CELERY_BROKER_URL is set.

A job is a plain function taking JSON-safe keyword arguments (ids, not objects) decorated
with `@job`. `enqueue()` runs it after the current transaction commits, so a job never sees
uncommitted data nor fires for a rolled-back operation. In-process, a failing job is logged
and never breaks the request that queued it; jobs record their own outcome (send logs).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction

from levier.audit.choices import Channel
from levier.audit.context import channel
from levier.celery import app as celery_app

log = logging.getLogger(__name__)

JobFunction = Callable[..., Any]
_REGISTRY: dict[str, JobFunction] = {}


def job(fn: JobFunction) -> JobFunction:
    name = f"{fn.__module__}.{fn.__name__}"

    def run(**kwargs: Any) -> Any:
        with channel(Channel.JOB):
            return fn(**kwargs)

    _REGISTRY[name] = run
    celery_app.task(name=name, acks_late=True)(run)
    fn.job_name = name  # type: ignore[attr-defined]
    return fn


def job_name(fn: JobFunction | str) -> str:
    return fn if isinstance(fn, str) else str(fn.job_name)  # type: ignore[attr-defined]


def uses_celery() -> bool:
    return bool(settings.CELERY_BROKER_URL)


def dispatch(fn: JobFunction | str, **kwargs: Any) -> None:
    """Run now: send to the broker, or call in this process."""
    name = job_name(fn)
    if uses_celery():
        celery_app.send_task(name, kwargs=kwargs, queue=settings.CELERY_TASK_DEFAULT_QUEUE)
        return
    try:
        _REGISTRY[name](**kwargs)
    except Exception:
        log.exception("in-process job %s failed (kwargs=%r)", name, kwargs)


def enqueue(fn: JobFunction | str, **kwargs: Any) -> None:
    """Run after the current transaction commits (immediately when none is open)."""
    transaction.on_commit(lambda: dispatch(fn, **kwargs))
