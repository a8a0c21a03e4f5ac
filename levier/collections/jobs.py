"""The collections jobs Celery workers must know (autodiscovered as `<app>.jobs`)."""

from levier.collections import jobs_dunning  # noqa: F401
