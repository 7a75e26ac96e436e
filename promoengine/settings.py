"""Settings, all from environment variables.

No variables at all gives the embedded default: SQLite file, Celery tasks run inline,
e-mail printed to the console. DATABASE_URL, CELERY_BROKER_URL, REDIS_URL, SECRET_KEY,
DEBUG and ALLOWED_HOSTS switch to the production parts.
"""

import json
import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from core.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


DEBUG = env_bool("DEBUG", True)
_DEV_SECRET = "dev-only-insecure-secret-key-change-me-in-production-0123456789"
SECRET_KEY = os.environ.get("SECRET_KEY") or _DEV_SECRET
if not DEBUG and SECRET_KEY == _DEV_SECRET:
    raise ImproperlyConfigured("Set SECRET_KEY when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "import_export",
    "django_celery_beat",
    "django_prometheus",
    "core",
    "catalog",
    "customers",
    "rules",
    "segments",
    "promo",
    "distribution",
    "giftcards",
    "backoffice",
]

MIDDLEWARE = [
    "core.middleware.RequestIdMiddleware",
    # /healthz, /readyz and /metrics are answered here, before everything below (core/health.py says why).
    "core.middleware.OpsEndpointsMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "core.middleware.ClientIpMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.ApiErrorMiddleware",
    "core.throttling.RateLimitHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.middleware.ActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "promoengine.urls"
WSGI_APPLICATION = "promoengine.wsgi.application"
ASGI_APPLICATION = "promoengine.asgi.application"

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

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads (live test server, inline tasks) share the file: wait instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    DATABASES["default"]["CONN_MAX_AGE"] = 0
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend with integer parameters that never wrap at 32 bits (core/db/postgresql/base.py says why).
    DATABASES["default"]["ENGINE"] = "core.db.postgresql"
if DATABASES["default"]["ENGINE"] == "core.db.postgresql" and env_bool("DB_PREPARED_STATEMENTS", True):
    # Parameters travel apart from the SQL (server-side binding), so psycopg prepares the statements a
    # connection runs again and again (every checkout's reads and writes): PostgreSQL parses and plans them
    # once per connection instead of once per request. Turn off (DB_PREPARED_STATEMENTS=0) behind a pooler
    # in transaction mode that cannot keep prepared statements (PgBouncer before 1.21).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=env_int("DB_PREPARE_THRESHOLD", 5))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# The merchant's currency; every amount is an integer in its minor unit.
CURRENCY = os.environ.get("CURRENCY", "USD")

# Stacking rules (Voucherify's fields; defaults and maxima in promo/stacking.py), as a JSON object,
# e.g. STACKING_RULES='{"applicable_redeemables_limit": 3, "redeemables_application_mode": "PARTIAL"}'.
try:
    STACKING_RULES = json.loads(os.environ.get("STACKING_RULES") or "{}")
except json.JSONDecodeError as exc:
    raise ImproperlyConfigured(f"STACKING_RULES is not valid JSON: {exc}")

# Qualifications read promotion tiers, stacks and their rules through a per-process cache refreshed at
# least this often (seconds; 0: no cache). Tier and stack edits through the API refresh it at once.
QUALIFICATIONS_CACHE_SECONDS = env_int("QUALIFICATIONS_CACHE_SECONDS", 5)

# Back office: roles, object permissions and approvals (docs/backoffice.md, docs/configuration.md).
# Members of these roles see only the campaigns granted to them (categories or single campaigns).
BACKOFFICE_SCOPED_ROLES = env_list("BACKOFFICE_SCOPED_ROLES", "Partner")
# A Junior Marketer's cap: above it (or without a budget when one is required) a campaign waits for approval.
JUNIOR_MARKETER_MAX_PERCENT = env_int("JUNIOR_MARKETER_MAX_PERCENT", 30)
JUNIOR_MARKETER_MAX_AMOUNT = env_int("JUNIOR_MARKETER_MAX_AMOUNT", 0)  # minor units; 0 = no amount cap
JUNIOR_MARKETER_REQUIRES_BUDGET = env_bool("JUNIOR_MARKETER_REQUIRES_BUDGET", True)
# Every campaign a Junior Marketer creates waits for approval (off: only those above the cap).
JUNIOR_MARKETER_ALWAYS_NEEDS_APPROVAL = env_bool("JUNIOR_MARKETER_ALWAYS_NEEDS_APPROVAL", True)
# Thresholds for everyone else (0 / off = none): above them a new campaign waits for approval too.
APPROVAL_PERCENT_OFF_ABOVE = env_int("APPROVAL_PERCENT_OFF_ABOVE", 0)
APPROVAL_AMOUNT_OFF_ABOVE = env_int("APPROVAL_AMOUNT_OFF_ABOVE", 0)
APPROVAL_WITHOUT_BUDGET = env_bool("APPROVAL_WITHOUT_BUDGET", False)
# Customer service: the largest "sorry" coupon an agent may issue.
CS_SORRY_COUPON_MAX_AMOUNT = env_int("CS_SORRY_COUPON_MAX_AMOUNT", 2000)  # minor units
CS_SORRY_COUPON_MAX_PERCENT = env_int("CS_SORRY_COUPON_MAX_PERCENT", 20)
# Refunds to gift cards (giftcards.refunds). Always at most what the order can still refund; besides:
# the largest refund a staff member (not a superuser) may make at once,
CS_REFUND_MAX_AMOUNT = env_int("CS_REFUND_MAX_AMOUNT", 50000)  # minor units
# above this a refund (staff or API key; not a superuser) waits for a second person's approval (0 = never),
GIFTCARD_REFUND_APPROVAL_ABOVE = env_int("GIFTCARD_REFUND_APPROVAL_ABOVE", 0)
# and the most a refund for an order the engine does not know may be, with a reason (0 = refused).
GIFTCARD_REFUND_WITHOUT_ORDER_MAX = env_int("GIFTCARD_REFUND_WITHOUT_ORDER_MAX", 0)

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Public URL of this deployment, used in asset links (QR codes, cockpits) carried by API objects.
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

# Request bodies: JSON is small; CSV uploads may be larger.
API_MAX_JSON_BODY = env_int("API_MAX_JSON_BODY", 1024 * 1024)
API_MAX_UPLOAD_BODY = env_int("API_MAX_UPLOAD_BODY", 50 * 1024 * 1024)
API_MAX_JSON_DEPTH = env_int("API_MAX_JSON_DEPTH", 32)  # nesting of objects and arrays in a JSON body
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_JSON_BODY
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# E-mail
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "promotions@localhost")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)

# Cache: Redis when configured, else per-process memory.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# The client's address: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT reverse proxies (load balancer, CDN) that each
# append to X-Forwarded-For, the address the outermost of them saw. Rate limits, lockouts and attempt records use it.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

# Rate limits (docs/configuration.md#rate-limits-and-lockouts) on the views that declare a `throttle_scope`: per
# API key, per client IP and per customer named in the body, counted apart for each scope. A rate is written as
# the `limits` library reads it: "300/second", "60/minute", "100 per 5 minutes"; empty or 0 turns it off.
# Counted in Redis when REDIS_URL is set (shared by every process), else by each process on its own.
RATE_LIMITS_ENABLED = env_bool("RATE_LIMITS_ENABLED", True)
# Server-side integrations call from their own servers, whose address the key already stands for: no per-IP
# limit by default there (each limit costs a Redis round trip per request); client-side endpoints have one.
RATE_LIMIT_DEFAULTS = {
    "key": os.environ.get("RATE_LIMIT_PER_KEY", "300/second"),
    "ip": os.environ.get("RATE_LIMIT_PER_IP", ""),
    "customer": os.environ.get("RATE_LIMIT_PER_CUSTOMER", "60/minute"),
}
# Per scope (validations, redemptions, qualifications, client), over the defaults above, as a JSON object, e.g.
# RATE_LIMITS='{"redemptions": {"customer": "20/minute"}, "client": {"ip": "30/minute"}}'.
try:
    RATE_LIMITS = {"client": {"ip": "120/minute", "customer": "30/minute"}} | json.loads(
        os.environ.get("RATE_LIMITS") or "{}")
except json.JSONDecodeError as exc:
    raise ImproperlyConfigured(f"RATE_LIMITS is not valid JSON: {exc}")
RATE_LIMIT_KEY_PREFIX = "rl"  # of the rate-limit and lockout counters in their storage

# Lockouts after invalid codes: this many codes refused for one of LOCKOUT_FAILURES (failure keys; not_found: no
# such code) within LOCKOUT_WINDOW_SECONDS, from one customer, client IP or API key, and that caller's
# validations and redemptions are refused for LOCKOUT_SECONDS (0 turns a count off). One
# `redemption.fraud_suspected` webhook event per lockout; the admin lists them (Campaigns and redemptions ->
# Lockouts).
LOCKOUT_INVALID_CODES_PER_CUSTOMER = env_int("LOCKOUT_INVALID_CODES_PER_CUSTOMER", 10)
LOCKOUT_INVALID_CODES_PER_IP = env_int("LOCKOUT_INVALID_CODES_PER_IP", 200)
LOCKOUT_INVALID_CODES_PER_KEY = env_int("LOCKOUT_INVALID_CODES_PER_KEY", 1000)
LOCKOUT_WINDOW_SECONDS = env_int("LOCKOUT_WINDOW_SECONDS", 600)
LOCKOUT_SECONDS = env_int("LOCKOUT_SECONDS", 900)
LOCKOUT_FAILURES = env_list("LOCKOUT_FAILURES", "not_found")

# Admin imports (django-import-export): the confirm step is a dry-run preview, and each import is one
# transaction (a failing row leaves nothing behind). Who may import: core.admin_mixins.ImportExportPermissionsMixin.
IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_SKIP_ADMIN_CONFIRM = False
IMPORT_EXPORT_IMPORT_IGNORE_BLANK_LINES = True

# Celery: without a broker, tasks run inline so the embedded default needs nothing else.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Scheduled jobs; django_celery_beat copies these into its tables when beat starts (editable in the admin).
CELERY_BEAT_SCHEDULE = {
    "giftcards-expire-temporary-credit": {"task": "giftcards.expire_credits", "schedule": 300.0},
    "giftcards-birthday-cards": {"task": "giftcards.issue_birthday_cards",
                                 "schedule": crontab(hour=env_int("GIFTCARD_BIRTHDAY_HOUR", 6), minute=0)},
    # Breakage: balances of cards expired more than GIFTCARD_EXPIRY_WRITE_OFF_DAYS ago (0: disabled).
    "giftcards-write-off-expired": {"task": "giftcards.write_off_expired",
                                    "schedule": crontab(hour=env_int("GIFTCARD_BIRTHDAY_HOUR", 6), minute=30)},
}
GIFTCARD_EXPIRY_WRITE_OFF_DAYS = env_int("GIFTCARD_EXPIRY_WRITE_OFF_DAYS", 0)
# Synced into django-celery-beat's tables by its scheduler when beat starts (editable in the admin).
CELERY_BEAT_SCHEDULE |= {  # added to the gift card jobs above, not replacing them
    # Segments whose filter moves with the clock ("ordered in the last 14 days") are recomputed.
    "segments-recompute-scheduled": {
        "task": "segments.recompute_scheduled",
        "schedule": env_int("SEGMENTS_RECOMPUTE_EVERY_SECONDS", 3600),
    },
}

# Webhooks (docs/webhooks.md): a failed delivery is retried by this beat task with exponential backoff
# (1 min, 5 min, 30 min, 2 h, 6 h) until WEBHOOK_MAX_ATTEMPTS attempts in all.
CELERY_BEAT_SCHEDULE["distribution-retry-webhooks"] = {
    "task": "distribution.retry_due_deliveries",
    "schedule": float(env_int("WEBHOOK_RETRY_SCAN_SECONDS", 30)),
}
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 6)
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 5)
# Plain-http endpoints on localhost (a receiver on the developer's machine, tests); https is required otherwise.
WEBHOOK_ALLOW_HTTP_LOCALHOST = env_bool("WEBHOOK_ALLOW_HTTP_LOCALHOST", DEBUG)

# Operations (docs/production.md): readiness, metrics.
# /readyz keeps its "every migration applied" answer this many seconds per process.
READYZ_MIGRATIONS_CACHE_SECONDS = env_int("READYZ_MIGRATIONS_CACHE_SECONDS", 10)
# /metrics answers a `Authorization: Bearer <METRICS_TOKEN>` request, or one from METRICS_ALLOWED_IPS
# (addresses or networks, e.g. "10.0.0.0/8"; the TCP peer: behind a proxy on this host, use the token).
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", "127.0.0.1,::1" if DEBUG else "")
METRICS_CELERY_QUEUES = env_list("METRICS_CELERY_QUEUES", "celery")  # queues whose length /metrics reports
PROMETHEUS_EXPORT_MIGRATIONS = False  # django-prometheus would query the database at start-up

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.auth.ApiKeyAuthentication",
        "core.auth.CsrfSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.auth.IsApiClientOrStaff"],
    "DEFAULT_RENDERER_CLASSES": ["core.api.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.StrictJSONParser",
        "core.api.parsers.StrictMultiPartParser",
        "core.api.parsers.StrictFormParser",
    ],
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    # Applies to views that declare a `throttle_scope` (see RATE_LIMIT_DEFAULTS above); others pass untouched.
    "DEFAULT_THROTTLE_CLASSES": ["core.throttling.RateLimits"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Promotion engine API",
    "DESCRIPTION": (
        "Voucherify v1 compatible checkout and management API, plus the project's own endpoints. "
        "Authenticate with the X-App-Id and X-App-Token headers. Amounts are integers in minor units."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets shared by several serializers get one name each in the schema.
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": ["CREATED", "PAID", "CANCELED", "FULFILLED"],
        "ProductOrSkuEnum": ["product", "sku"],
        "CollectionTypeEnum": "catalog.models.ProductCollection.Type",
        "CampaignUpdateTypeEnum": ["AUTO_UPDATE", "STATIC"],
        "DiscountVoucherTypeEnum": ["DISCOUNT_VOUCHER"],
    },
    "COMPONENT_SPLIT_REQUEST": True,
}

# Logs: one line per record with the request id, as text or JSON (LOG_FORMAT=json; core/logging.py).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text").strip().lower()
LOGGING = logging_config(LOG_FORMAT, os.environ.get("LOG_LEVEL", "INFO"),
                         client_errors=env_bool("LOG_CLIENT_ERRORS", False))
# A Celery worker logs through the same configuration: request ids, masking, JSON (by default Celery would
# replace the root logger's handlers with its own).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Production hardening: on whenever DEBUG is off.
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"
