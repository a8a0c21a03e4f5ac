"""The `levier` console script: Django's management entry point with Levier's settings."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "levier.settings")
    from django.core.management import execute_from_command_line

    argv = list(sys.argv)
    # `levier load-demo` runs the `load_demo` command: the CLI reads better with hyphens.
    if len(argv) > 1 and not argv[1].startswith("-"):
        argv[1] = argv[1].replace("-", "_")
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
