"""Shared set-up of the benchmarks: a throw-away database, migrated, and result files.

Django reads DATABASE_URL once, at settings import, so each database is benchmarked in its
own process: `--db both` re-runs the script once per database.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/"


def arguments(description: str, **extra: Any) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG))
    for name, (kind, default, help_text) in extra.items():
        parser.add_argument(f"--{name}", type=kind, default=default, help=help_text)
    return parser.parse_args()


def run_each_database(args: argparse.Namespace) -> bool:
    """With --db both, run this script once per database; True when that was done."""
    if args.db != "both":
        return False
    status = 0
    for db in ("sqlite", "postgres"):
        argv = [sys.executable, sys.argv[0], *sys.argv[1:], "--db", db]
        status |= subprocess.call(argv)
    sys.exit(status)


def _pg_admin(pg_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(pg_url.rstrip("/") + "/postgres", autocommit=True) as conn:
        conn.execute(sql)


class BenchDatabase:
    """A fresh, migrated database for one benchmark run, removed afterwards."""

    def __init__(self, db: str, name: str, pg_url: str) -> None:
        self.db, self.name, self.pg_url = db, name, pg_url
        self.tmp = Path(tempfile.mkdtemp(prefix=f"levier-bench-{name}-"))

    def __enter__(self) -> BenchDatabase:
        os.environ["LEVIER_DATA_DIR"] = str(self.tmp)
        os.environ["DJANGO_SETTINGS_MODULE"] = "levier.settings"
        os.environ.setdefault("SECRET_KEY", "levier-benchmark-only-key-never-used-in-production-42")
        # Confirmation emails are rendered and "sent" to memory, never to an SMTP server,
        # and jobs run in-process (no broker), as in a default install.
        os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
        os.environ.pop("CELERY_BROKER_URL", None)
        # Benchmarks measure issuing, not sending (a PDF and an email per invoice).
        os.environ["LEVIER_AUTO_SEND_INVOICES"] = "0"
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        if self.db == "sqlite":
            os.environ["DATABASE_URL"] = f"sqlite:///{self.tmp / 'bench.sqlite3'}"
        else:
            _pg_admin(self.pg_url, f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
            _pg_admin(self.pg_url, f"CREATE DATABASE {self.name}")
            if os.environ.get("BENCH_ASYNC_COMMIT"):
                # Diagnostic only: shows how much of an order's time is WAL fsync at COMMIT.
                _pg_admin(self.pg_url, f"ALTER DATABASE {self.name} SET synchronous_commit = off")
            os.environ["DATABASE_URL"] = self.pg_url.rstrip("/") + "/" + self.name
        sys.path.insert(0, str(ROOT))
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        return self

    def __exit__(self, *exc: object) -> None:
        from django.db import connections

        connections.close_all()
        if self.db == "postgres":
            _pg_admin(self.pg_url, f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        shutil.rmtree(self.tmp, ignore_errors=True)


def server_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
        cursor.execute("select sqlite_version()")
        return f"SQLite {cursor.fetchone()[0]}"


def write_result(name: str, db: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    payload = {
        "benchmark": name,
        "database": server_version(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        **payload,
    }
    path = RESULTS / f"{name}-{db}.json"
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return path


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [headers, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(
            c.rjust(w) if i else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
