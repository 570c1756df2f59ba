"""The one settings file. Every value that differs between machines comes from the environment;
the README's configuration table lists them all.

With no environment at all this is the embedded default: SQLite, Celery tasks run eagerly
in-process, embedded inference backends, DEBUG on. Production (`DJANGO_DEBUG=0`) refuses to
start without `DJANGO_SECRET_KEY`.
"""

import json
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = os.environ


def env_bool(name: str, default: bool) -> bool:
    value = env.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be 1/0, true/false, yes/no or on/off, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = env.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = env.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off")
    SECRET_KEY = "embedded-default-insecure-key-do-not-use-in-production"

ALLOWED_HOSTS = [h for h in env.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in env.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "axes",
    "deliberation",
]

# The web-tier benchmark's per-request CPU and SQL figures (config/server_timing.py): a
# Server-Timing header on every response. Benchmarks only, never production; when off the
# middleware removes itself when Django loads the chain.
BENCH_INSTRUMENT = env_bool("BENCH_INSTRUMENT", False)

MIDDLEWARE = [
    "config.server_timing.ServerTimingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # django-csp's, with the site-wide header built once (config/csp.py).
    "config.csp.SiteCSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "deliberation.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "deliberation.middleware.DomainErrorMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if not env.get("DATABASE_URL"):
    # The embedded default keeps its SQLite file in var/, which a fresh clone does not have yet.
    (BASE_DIR / "var").mkdir(exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        env.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}
# Behind PgBouncer's transaction pooling a cursor that outlives its transaction may be asked for
# on another server connection, so the web tier there sets DATABASE_SERVER_SIDE_CURSORS=0; the
# export worker keeps them (its exports read in one transaction, in chunks), through its own
# DATABASE_URL straight to PostgreSQL. See the README's "Scaling out".
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = not env_bool(
    "DATABASE_SERVER_SIDE_CURSORS", True
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Sessions live in the database only, so that a Redis outage cannot take participant pages down
# (and a cache that missed writes during one cannot hand back a stale session afterwards).
SESSION_ENGINE = "django.contrib.sessions.backends.db"
REDIS_URL = env.get("REDIS_URL", "")
if REDIS_URL:
    # The cache (rate-limit counters, the create page's once-only guard) fails open: while Redis
    # is away every read misses and every write is dropped, with a warning in the log.
    CACHES = {
        "default": {
            "BACKEND": "config.cache.FailOpenRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The waiting page's poll answers "nothing changed" from versions kept in the cache
# (deliberation.services.versions), which only a cache that every process shares can hold.
CHEAP_POLL = env_bool("CHEAP_POLL", bool(REDIS_URL))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "research:landing"  # moderators on to their list, researchers to Data
LOGOUT_REDIRECT_URL = "login"

# Languages (README, "Languages"). Participant pages speak their deliberation's language
# (`Deliberation.language`, one of LANGUAGES), never the browser's; everything else stays in
# LANGUAGE_CODE. deliberation.middleware.LanguageMiddleware keeps a language to its request.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "German (Deutsch)")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# The shared folder beside the checkout (or $CG_SHARED_DIR) holds the real question bank, read at
# run time by `simulate --question-source bank` and the tests about the bank; never copied here.
SHARED_DIR = Path(env.get("CG_SHARED_DIR") or BASE_DIR.parent / "shared")
QUESTION_BANK_PATH = SHARED_DIR / "data" / "hm_questions.json"

STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_AGE = 60 * 60 * 24 * 7

# HTTPS only, told to browsers for a year, when not debugging (the README's TLS proxy in front).
SECURE_HSTS_SECONDS = 0 if DEBUG else env_int("SECURE_HSTS_SECONDS", 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = False
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Content-Security-Policy (django-csp): scripts and styles from this site only, no inline script.
# Inline style *attributes* stay allowed for the progress bars and score bars the templates draw;
# htmx is told not to inject its own <style> element (templates/base.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        # The panel's completion page posts to the panel's own site (Prolific and the like).
        "form-action": ["'self'", "https:"],
    }
}

# How many reverse proxies in front of the app append to X-Forwarded-For: the client address is
# the entry that many places from the end. 0 (the default) trusts no header: REMOTE_ADDR.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

# Login throttling (django-axes): after LOGIN_FAILURE_LIMIT failed logins from one address for
# one username, that pair is locked out for LOGIN_COOLOFF_MINUTES.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["ip_address", "username"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "deliberation.ratelimit.client_address"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "deliberation.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "deliberation.api.pagination.PagePagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "deliberation.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.get("API_THROTTLE_ANON", "60/min"),
        "user": env.get("API_THROTTLE_USER", "1200/min"),
        "exports": env.get("API_THROTTLE_EXPORTS", "30/hour"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Common Ground API",
    "DESCRIPTION": (
        "Read access to deliberations and what their groups produced, question import, and data "
        "exports. Authenticate with `Authorization: Token <secret>` (make a token on the API "
        'tokens page) or a browser session. Errors are `{"error": {"code", "message", '
        '"details"}}`.'
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "deliberation.api.schema.add_error_responses",
    ],
}

# Export files (the Data page and the API): a Django storage, a local folder by default.
# EXPORT_STORAGE_BACKEND/EXPORT_STORAGE_OPTIONS point it elsewhere, e.g. django-storages' S3.
EXPORT_STORAGE_LOCATION = env.get("EXPORT_STORAGE_LOCATION") or str(BASE_DIR / "var" / "exports")
EXPORT_DOWNLOAD_TTL_HOURS = env_int("EXPORT_DOWNLOAD_TTL_HOURS", 24)
try:
    _export_storage_options = json.loads(env.get("EXPORT_STORAGE_OPTIONS") or "null")
except json.JSONDecodeError as exc:
    raise ImproperlyConfigured(f"EXPORT_STORAGE_OPTIONS must be a JSON object: {exc}") from None
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "exports": {
        "BACKEND": env.get("EXPORT_STORAGE_BACKEND")
        or "django.core.files.storage.FileSystemStorage",
        "OPTIONS": _export_storage_options or {"location": EXPORT_STORAGE_LOCATION},
    },
}

# Celery. With no broker configured the embedded default runs tasks eagerly, in-process.
CELERY_BROKER_URL = env.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not CELERY_BROKER_URL)
# Without a broker (the embedded default) eager tasks run in a background thread of the web
# process, after the response: the last member's send returns at once and the waiting page shows
# the mediation. Off when a broker is configured (the tests' eager fixture then runs tasks inline).
EAGER_TASKS_IN_BACKGROUND = env_bool("EAGER_TASKS_IN_BACKGROUND", not CELERY_BROKER_URL)
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task that cannot be acknowledged any more (the broker connection was lost while it ran) is
# cancelled, so its message is delivered again rather than acknowledged into the void
# (celery/celery#6654; the default from Celery 6). The mediation lease makes the repeat harmless.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Sending a task while the broker is down gives up within about a second (the work is not lost:
# the recovery sweep sends whatever is waiting again once the broker is back).
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}

# Work that must finish (DESIGN.md). A mediation has a hard time limit (the task is killed) and a
# soft one (the iteration fails with the reason); its claim is a lease that the running task
# renews every third of MEDIATION_LEASE_SECONDS, and the recovery sweep (every
# RECOVERY_SWEEP_SECONDS) sends again a mediation whose lease lapsed or that waited in the queue
# longer than MEDIATION_QUEUE_GRACE_SECONDS without a worker taking it. With the defaults a
# mediation whose worker died is sent again within 30 + 15 s, a lost one within 30 + 15 s.
MEDIATION_TIME_LIMIT = env_int("MEDIATION_TIME_LIMIT", 600)
MEDIATION_SOFT_TIME_LIMIT = env_int("MEDIATION_SOFT_TIME_LIMIT", max(1, MEDIATION_TIME_LIMIT - 30))
MEDIATION_LEASE_SECONDS = env_int("MEDIATION_LEASE_SECONDS", 30)
MEDIATION_QUEUE_GRACE_SECONDS = env_int("MEDIATION_QUEUE_GRACE_SECONDS", 30)
MEDIATION_MAX_RESENDS = env_int("MEDIATION_MAX_RESENDS", 3)
RECOVERY_SWEEP_SECONDS = env_int("RECOVERY_SWEEP_SECONDS", 15)
WORKER_HEARTBEAT_SECONDS = env_int("WORKER_HEARTBEAT_SECONDS", 10)
if MEDIATION_SOFT_TIME_LIMIT >= MEDIATION_TIME_LIMIT:
    raise ImproperlyConfigured("MEDIATION_SOFT_TIME_LIMIT must be below MEDIATION_TIME_LIMIT")
# A message a worker took and never acknowledged (the worker died) is given to another worker
# after this long; longer than the longest mediation, so a running one is never handed out twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": MEDIATION_TIME_LIMIT + 60,
    "socket_connect_timeout": 3,
}
CELERY_BEAT_SCHEDULE = {
    "advance-overdue-iterations": {
        "task": "deliberation.tasks.advance_overdue_iterations",
        "schedule": env_int("DEADLINE_SWEEP_SECONDS", 15),
    },
    # Members gone silent drop out (their group goes on); overdue waiting pools start or release.
    # Export files past their download time are deleted.
    "sweep-expired-exports": {
        "task": "deliberation.tasks.sweep_expired_exports",
        "schedule": env_int("EXPORT_SWEEP_SECONDS", 3600),
    },
    # Expired sessions (in the database) are deleted.
    "clear-expired-sessions": {
        "task": "deliberation.tasks.clear_expired_sessions",
        "schedule": env_int("SESSION_SWEEP_SECONDS", 6 * 3600),
    },
    "sweep-presence": {
        "task": "deliberation.tasks.sweep_presence",
        "schedule": env_int("DEADLINE_SWEEP_SECONDS", 15),
    },
    # Mediations whose worker died or whose message was lost are sent again; idle bots nudged.
    "recover-work": {
        "task": "deliberation.tasks.recover_work",
        "schedule": env_int("RECOVERY_SWEEP_SECONDS", 15),
    },
}

# Inference: read once here, turned into backends by deliberation.mediator when a task needs them.
INFERENCE_ENV = {
    key: env[key]
    for key in (
        "GENERATOR_BACKEND",
        "GENERATOR_URL",
        "GENERATOR_MODEL",
        "GENERATOR_TIMEOUT",
        "GENERATOR_API_KEY",
        "REWARD_BACKEND",
        "REWARD_URL",
        "REWARD_MODEL",
        "REWARD_TIMEOUT",
        "REWARD_API_KEY",
        "REWARD_HEAD_PATH",
        "MEDIATION_CANDIDATES",
        "MEDIATION_AGGREGATION",
        "MEDIATION_ALPHA",
    )
    if env.get(key)
}

# Mediation workers: CPU threads torch may use in each worker process (the worker shares the
# machine with the web tier; under load two threads on two shared cores were 2.8x slower than
# one), and whether each worker process builds the server's mediation backends when it starts
# (rather than on its first group). Applied by deliberation.tasks on Celery's process-init signals.
TORCH_THREADS = env_int("TORCH_THREADS", 1)
MEDIATION_PRELOAD = env_bool("MEDIATION_PRELOAD", True)

# Rate limits (requests per minute per client address) on joining and posting.
RATE_LIMIT_JOIN_PER_MINUTE = env_int("RATE_LIMIT_JOIN_PER_MINUTE", 30)
RATE_LIMIT_POST_PER_MINUTE = env_int("RATE_LIMIT_POST_PER_MINUTE", 120)

# Salt for the pseudonymous participant hashes in exports.
EXPORT_SALT = env.get("EXPORT_SALT") or SECRET_KEY

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"refusals_on_one_line": {"()": "config.log_filters.RefusalsOnOneLine"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["refusals_on_one_line"]}
    },
    "root": {"handlers": ["console"], "level": env.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Through the root's handler only (Django's own console handler would print refusals'
        # tracebacks again when debugging).
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
    },
}
