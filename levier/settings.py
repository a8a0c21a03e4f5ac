"""Levier settings: everything comes from the environment and bad values fail loudly.

Modelled on healthchecks' `hc/settings.py`: small typed helpers instead of a settings
framework, so an operator reading the error sees the variable name and the value.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true/false, 1/0, yes/no)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None


def env_hour(name: str, default: int) -> int:
    value = env_int(name, default)
    if not 0 <= value <= 23:
        raise ImproperlyConfigured(f"{name}={value} is not an hour of the day (0 to 23)")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEMO_MODE = env_bool("LEVIER_DEMO", False)
DEBUG = env_bool("DEBUG", False)


def _data_dir() -> Path:
    """Where the SQLite database, uploads and generated secrets live.

    Defaults to `var/` of the source checkout (what `make demo` uses), never to the current
    directory: `levier migrate` run from elsewhere must not silently create a second,
    empty database. An installed package (no checkout around it) must be told.
    """
    raw = env_str("LEVIER_DATA_DIR")
    if raw:
        return Path(raw).resolve()
    checkout = BASE_DIR.parent
    if (checkout / "pyproject.toml").exists() and (checkout / "levier").is_dir():
        return checkout / "var"
    raise ImproperlyConfigured(
        "LEVIER_DATA_DIR is not set: point it to the folder for Levier's data "
        "(database, uploads), e.g. /var/lib/levier"
    )


DATA_DIR = _data_dir()
# Archived contracts and amendments (kept ten years), stored under their SHA-256.
ARCHIVE_DIR = Path(env_str("LEVIER_ARCHIVE_DIR") or DATA_DIR / "archive")
# A source checkout run with its default data folder is a developer's machine: it may keep a
# generated SECRET_KEY there. A deployment names its data folder, and then needs SECRET_KEY.
_DEV_CHECKOUT = not env_str("LEVIER_DATA_DIR") and (BASE_DIR.parent / "var") == DATA_DIR


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        if len(key) < 32:
            raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters long")
        return key
    # The demo, a DEBUG run and a source checkout's default data folder keep a generated key
    # there, so they work out of the box and sessions survive a restart. A deployment must
    # set SECRET_KEY: a silently generated key would differ between its web servers.
    if not (DEMO_MODE or DEBUG or _DEV_CHECKOUT):
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: set it (50 random characters, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`), "
            "or LEVIER_DEMO=1 for a demo"
        )
    path = DATA_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    path.write_text(key)
    path.chmod(0o600)
    return key


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])


def _random_page_cost() -> str:
    """`-c random_page_cost=…` for Levier's PostgreSQL connections, or "" to keep the
    server's. PostgreSQL's default (4) prices a random read as on a spinning disk: it then
    prefers scanning all 946,097 allocations to fetching the 11,880 of a fortnight's
    payments through their index, 100 ms instead of 35 ms for each aged balance counted
    from a month end (bench/kpis.py). 1.1 is the value PostgreSQL's manual suggests for
    SSDs."""
    raw = env_str("LEVIER_PG_RANDOM_PAGE_COST", "1.1").strip()
    if not raw:
        return ""
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 100:
        raise ImproperlyConfigured(
            f"LEVIER_PG_RANDOM_PAGE_COST={raw!r} is not a positive number (empty: the server's)"
        )
    return f"-c random_page_cost={raw}"


def _database() -> dict[str, Any]:
    url = env_str("DATABASE_URL")
    if not url:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{DATA_DIR / 'levier.sqlite3'}"
    if not url.startswith(("sqlite:", "postgres:", "postgresql:", "pgsql:")):
        raise ImproperlyConfigured(
            f"DATABASE_URL={url!r}: only sqlite:///path and postgresql://… are supported"
        )
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL={url!r} cannot be parsed: {exc}") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets readers go on while a writer commits; IMMEDIATE takes the write lock at
        # BEGIN so two writers queue instead of failing on lock upgrade.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        config["CONN_MAX_AGE"] = 0
    else:
        # PostgreSQL's JIT compiles Levier's one-off aggregates (KPIs, breakdowns, aged
        # balance) for longer than they run: ×1.5 to ×3 at 1,000,000 invoices (bench/kpis.py).
        # Off for every connection, after whatever `?options=` the URL gives. Before those,
        # the planner's cost of a random page read, for a database on SSD or in memory.
        options = config.setdefault("OPTIONS", {})
        planner = _random_page_cost()
        options["options"] = " ".join(
            part for part in (planner, options.get("options", ""), "-c jit=off") if part
        )
    config["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME") or None}
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "axes",
    "levier.accounts",
    "levier.audit",
    "levier.customers",
    "levier.catalog",
    "levier.sales",
    "levier.billing",
    "levier.contracts",
    "levier.collections",
    "levier.integrations",
    "levier.kpis",
    "levier.advaudit",
    "levier.demo",
    "levier.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "levier.web.middleware.FrenchFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "levier.audit.middleware.AuditChannelMiddleware",
    "levier.web.middleware.DomainErrorMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "levier.urls"
WSGI_APPLICATION = "levier.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "levier.web.context_processors.levier",
            ],
        },
    }
]

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = (
    []
    if DEMO_MODE
    else [
        {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
        {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
        {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    ]
)
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

# Failed-login throttling (django-axes): 5 failures for a username from one address lock it
# for 15 minutes.
AXES_FAILURE_LIMIT = env_int("LEVIER_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = 0.25
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "web/lockout.html"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 8 * 3600
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG and not DEMO_MODE)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_HTTPONLY = False  # HTMX reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", "Français"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Europe/Paris")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
# Front-end packages (HTMX) come from the npm registry at install time into node_modules/.
NODE_MODULES = Path(env_str("LEVIER_NODE_MODULES", str(BASE_DIR.parent / "node_modules")))
STATICFILES_DIRS = [("vendor", NODE_MODULES)] if NODE_MODULES.exists() else []
MEDIA_ROOT = DATA_DIR / "media"
# WhiteNoise serves the static files in every mode (no separate web server needed for a
# small install); with DEBUG off, run `levier collectstatic` after each upgrade for speed,
# otherwise files are found in the apps and node_modules directly.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing
WHITENOISE_AUTOREFRESH = DEBUG

# A demo has no mail server: its emails (order confirmations, invoices) are written as .log
# files under $LEVIER_DATA_DIR/sent-mail instead, where they can be read.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.filebased.EmailBackend"
    if DEMO_MODE
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = DATA_DIR / "sent-mail"
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL cannot both be true")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "adv@levier.localhost")
LEVIER_EMAIL_CLAIM_TIMEOUT_SECONDS = env_int("LEVIER_EMAIL_CLAIM_TIMEOUT_SECONDS", 600)
LEVIER_COMPANY_NAME = env_str("LEVIER_COMPANY_NAME", "Levier")

# Background jobs run in-process unless a broker is configured (see levier/jobs.py).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
if CELERY_BROKER_URL and not CELERY_BROKER_URL.startswith(("redis://", "rediss://", "amqp://")):
    raise ImproperlyConfigured(
        f"CELERY_BROKER_URL={CELERY_BROKER_URL!r}: expected redis://… or amqp://…"
    )
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "levier")
# A web request queues its jobs after commit: if the broker is down it must not hang there.
# The pending row is already written (e.g. the QUEUED email), `levier send-pending-emails`
# sends it later, so a couple of quick retries are enough.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
# The daily billing run (drafts only: ADV reviews and issues) and dunning run, and on Mondays
# the week's KPI snapshot then the PDF report emailed to the Direction, on `celery beat`
# (the schedule is built in levier/celery.py: a command that queues no job, such as
# `levier kpis`, then never imports Celery). Without
# Celery, cron runs `levier billing-run`, `levier dunning-run` and `levier send-kpi-report
# --weekly` instead.
LEVIER_BILLING_RUN_HOUR = env_hour("LEVIER_BILLING_RUN_HOUR", 6)
LEVIER_DUNNING_RUN_HOUR = env_hour("LEVIER_DUNNING_RUN_HOUR", 7)
LEVIER_KPI_REPORT_HOUR = env_hour("LEVIER_KPI_REPORT_HOUR", 7)
CELERY_TIMEZONE = TIME_ZONE
# On PostgreSQL, compute_kpis reads the cut-off and the forecast on two more connections
# sharing its snapshot (levier.kpis.parallel).
LEVIER_KPI_PARALLEL = env_bool("LEVIER_KPI_PARALLEL", True)
# The user scheduled billing runs are recorded as (default: the first active ADV user).
LEVIER_BILLING_USER = env_str("LEVIER_BILLING_USER")
# Issuing an invoice queues its sending on the customer's channel (email, e-invoicing
# platform, post); off, sending is done by hand from the invoice page.
LEVIER_AUTO_SEND_INVOICES = env_bool("LEVIER_AUTO_SEND_INVOICES", True)
# The user scheduled dunning runs are recorded as (default: the first active Comptabilité).
LEVIER_DUNNING_USER = env_str("LEVIER_DUNNING_USER")
# A dunning run queues the sending of its reminders; off, they stay queued until
# `levier send-reminders` (the demo's history uses this: its reminders were never emailed).
LEVIER_AUTO_SEND_REMINDERS = env_bool("LEVIER_AUTO_SEND_REMINDERS", True)
# E-invoicing platform connector (dotted path); the default drops Factur-X files in an outbox.
LEVIER_EINVOICING_PLATFORM = env_str(
    "LEVIER_EINVOICING_PLATFORM", "levier.billing.platform.OutboxPlatform"
)
LEVIER_OUTBOX_DIR = Path(env_str("LEVIER_OUTBOX_DIR") or DATA_DIR / "outbox")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# The account plan of `levier export-fec`: a YAML file overriding the French defaults key by
# key (docs/operations/fec-export.md); empty: the defaults.
LEVIER_FEC_ACCOUNTS_FILE = env_str("LEVIER_FEC_ACCOUNTS_FILE")

# The largest FEC the *Audit ADV* screen accepts (bytes; streamed to a temporary file).
LEVIER_AUDIT_MAX_UPLOAD_BYTES = env_int("LEVIER_AUDIT_MAX_UPLOAD_BYTES", 500 * 1024 * 1024)
