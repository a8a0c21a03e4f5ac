"""Background jobs: in-process by default, on Celery workers when CELERY_BROKER_URL is set.

A job is a plain function taking JSON-safe keyword arguments (ids, not objects) decorated
with `@job`. `enqueue()` runs it after the current transaction commits, so a job never sees
uncommitted data nor fires for a rolled-back operation. Neither a failing in-process job nor
an unreachable broker breaks the request that queued it: both are logged, after the commit,
and jobs record their own outcome (send logs). A job whose dispatch can be lost (broker down,
process killed right after the commit) writes its pending state in the business transaction
itself, so a sweeper can find it (see `levier send-pending-emails`).
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


def dispatch(fn: JobFunction | str, **kwargs: Any) -> bool:
    """Run now: send to the broker, or call in this process. Never raises.

    Returns False when the job could not be handed to the broker (logged) or failed
    in-process (logged), True otherwise.
    """
    name = job_name(fn)
    if uses_celery():
        try:
            celery_app.send_task(name, kwargs=kwargs, queue=settings.CELERY_TASK_DEFAULT_QUEUE)
        except Exception:
            # Typically kombu.exceptions.OperationalError (Redis down). Called after the
            # commit: raising would turn a saved operation into an error page. The job's own
            # pending row (if it writes one) is what gets it run later.
            log.exception("job %s not sent to the broker (kwargs=%r)", name, kwargs)
            return False
        return True
    try:
        _REGISTRY[name](**kwargs)
    except Exception:
        log.exception("in-process job %s failed (kwargs=%r)", name, kwargs)
        return False
    return True


def enqueue(fn: JobFunction | str, **kwargs: Any) -> None:
    """Run after the current transaction commits (immediately when none is open).

    `robust`: an exception escaping the dispatch is logged by Django instead of reaching the
    caller once its transaction is already committed (and of skipping the other callbacks).
    """
    transaction.on_commit(lambda: dispatch(fn, **kwargs), robust=True)
