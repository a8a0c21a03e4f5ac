"""The `levier` console script: Django's management entry point with Levier's settings."""

import gc
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "levier.settings")
    from django.core.management import execute_from_command_line

    argv = list(sys.argv)
    # `levier load-demo` runs the `load_demo` command: the CLI reads better with hyphens.
    if len(argv) > 1 and not argv[1].startswith("-"):
        argv[1] = argv[1].replace("-", "_")
    try:
        execute_from_command_line(argv)
    finally:
        _before_exit()


def _before_exit() -> None:
    """The process ends after the command: close its database connections (the server sees
    them closed, not cut), then freeze every object for the collector. The interpreter's
    last collections would otherwise walk all that Django built at start-up, for nothing:
    about 0.1 s of every command, `levier kpis` included (bench/kpis.py)."""
    from django.apps import apps

    if apps.ready:
        from django.db import connections

        connections.close_all()
    gc.freeze()


if __name__ == "__main__":
    main()
