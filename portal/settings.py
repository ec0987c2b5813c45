"""The portal's one settings module: every deployment-specific value comes from the environment.

With nothing set it runs the embedded default (SQLite, local files, tasks in-process, console
email) for development. `.env.example` lists every variable; a bad value stops start-up with a
message naming it.
"""

import re
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local `.env` is read when present, so a developer need not export variables by hand.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    """A boolean that refuses typos: 'ture' must not silently mean False."""
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")


def env_positive_int(name: str, default: int) -> int:
    raw = env.str(name, default=str(default)).strip()
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None
    if value <= 0:
        raise ImproperlyConfigured(f"{name} must be greater than zero, not {value}.")
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env.str(name, default=default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}.")
    return value


DEBUG = env_bool("DEBUG", True)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "development-only-key-never-used-with-debug-off"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "axes",
    # Second factor for the admin site: authenticator apps (TOTP) and one-time backup codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "standards",
    "portal",
    "evidence",
    "reviews",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Outside sessions and sign-in, the first to touch the database: a 503 page while it restarts.
    "portal.faults.DatabaseOutageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Tells whether this session passed a second factor (`request.user.is_verified()`).
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After messages, so that it can say why someone was signed out.
    "portal.middleware.SessionLifetimeMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so that it sees the outcome of every sign-in attempt.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"

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

WSGI_APPLICATION = "portal.wsgi.application"

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# A persistent connection (`?conn_max_age=60` on DATABASE_URL) that died with a database restart
# is replaced at the start of the next request instead of failing it.
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # PostgreSQL's JIT compiles any query it estimates as costly: for the IQA's counts it spent
    # 80 to 185 ms compiling what then ran in less. Short web queries never win it back.
    connection_options = DATABASES["default"].setdefault("OPTIONS", {})
    connection_options["options"] = f"{connection_options.get('options', '')} -c jit=off".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
FIXTURE_DIRS = [BASE_DIR / "fixtures"]

# --- Users and sign-in ------------------------------------------------------------------------
AUTH_USER_MODEL = "portal.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# At least 12 characters and not on the list of 20,000 common passwords (OWASP ASVS 2.1.1, 2.1.7);
# no composition rules, so a passphrase of ordinary words is fine.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Sessions end after SESSION_IDLE_MINUTES without a request and SESSION_MAX_HOURS after signing
# in however busy; portal.middleware.SessionLifetimeMiddleware enforces both on the server. It
# renews the stored session at most once a minute rather than on every request (as
# SESSION_SAVE_EVERY_REQUEST would), so a page and its one-second progress polls do not each
# write to the database. The stored expiry matches the idle limit, so an abandoned session's row
# is dead (and `clearsessions` removes it) once the limit has passed.
SESSION_IDLE_MINUTES = env_positive_int("SESSION_IDLE_MINUTES", 30)
SESSION_MAX_HOURS = env_positive_int("SESSION_MAX_HOURS", 12)
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
# Closing the browser ends the session too: portfolios are often read on shared ward computers.
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Sign-in lockout (django-axes). Failures are counted per account (whatever address they come
# from, and whether or not the account exists) and per address (whichever accounts they try):
# LOGIN_FAILURE_LIMIT failures for one account, or LOGIN_FAILURE_LIMIT_PER_ADDRESS from one
# address, pause signing in for an hour after the last failure. An address gets the larger
# allowance because a hospital or college puts many people behind one address.
AXES_FAILURE_LIMIT = env_positive_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_FAILURE_LIMIT_PER_ADDRESS = env_positive_int("LOGIN_FAILURE_LIMIT_PER_ADDRESS", 30)
AXES_COOLOFF_TIME = 1  # hours
# In this order: portal.middleware.SignInAttemptHandler reads the account's count first.
AXES_LOCKOUT_PARAMETERS = [["username"], ["ip_address"]]
AXES_HANDLER = "portal.middleware.SignInAttemptHandler"
AXES_USERNAME_FORM_FIELD = "username"
# Email addresses are not case-sensitive here, so neither is the count: "A@x" and "a@x" are one account.
AXES_USERNAME_CALLABLE = "portal.middleware.sign_in_username"
AXES_CLIENT_IP_CALLABLE = "portal.middleware.client_address"
# Behind a reverse proxy every request comes from the proxy's address; the client's is the last
# one the proxy appended to X-Forwarded-For. Only trusted when set, since a client could forge it.
BEHIND_PROXY = env_bool("BEHIND_PROXY", not DEBUG)
# A success clears only the failures it explains (that account from that address), never the
# count of other accounts tried from the same address.
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# Second factor (django-otp): the admin site asks for a code from an authenticator app or a
# one-time backup code (see "Security" in the README for giving a staff member their first).
OTP_TOTP_ISSUER = "Apprenticeship Portal"

# Each role's home page, by URL name. The apps that own those pages set them here so that
# `portal` never has to import them.
ROLE_HOME_URL_NAMES = {
    "apprentice": "reviews:apprentice_home",
    "assessor": "reviews:assessor_home",
    "mentor": "reviews:mentor_home",
    "provider_admin": "reviews:provider_home",
    "iqa": "reviews:iqa_home",
}

# What `seed_demo` runs after creating the demo people, by dotted path, so that each app adds
# its own demo data without `portal` importing it. Each is called with the command's stdout.
DEMO_SEEDERS = [
    "evidence.demo.seed_demo_evidence",
    "reviews.demo.seed_demo_reviews",
    "reviews.demo_programme.seed_demo_programme",
]

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

# --- Static files and uploads -----------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
# No MEDIA_URL is served: uploaded evidence only ever leaves through views that check access.

MEDIA_STORAGE = env_choice("MEDIA_STORAGE", "local", ("local", "s3"))
if MEDIA_STORAGE == "s3":
    _media_backend = {
        "BACKEND": "portal.storage.S3MediaStorage",
        "OPTIONS": {
            "bucket_name": env.str("S3_BUCKET"),
            "endpoint_url": env.str("S3_ENDPOINT_URL", default=None),
            "region_name": env.str("S3_REGION", default=None),
            "access_key": env.str("S3_ACCESS_KEY_ID", default=None),
            "secret_key": env.str("S3_SECRET_ACCESS_KEY", default=None),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    _media_backend = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    }
STORAGES = {
    "default": _media_backend,
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Per-file limit for evidence uploads; requests may carry several files, so Django's own
# in-memory limits stay at their defaults and large files stream to temporary files.
MAX_UPLOAD_SIZE_MB = env_positive_int("MAX_UPLOAD_SIZE_MB", 25)
MAX_UPLOAD_SIZE = MAX_UPLOAD_SIZE_MB * 1024 * 1024
MAX_FILES_PER_UPLOAD = env_positive_int("MAX_FILES_PER_UPLOAD", 10)
# The most an apprentice's files may take up in all, across their apprenticeships (2 GB: a few
# hundred documents and photos, far more than a portfolio needs), so one account cannot fill the disk.
STORAGE_QUOTA_MB = env_positive_int("STORAGE_QUOTA_MB", 2048)
STORAGE_QUOTA = STORAGE_QUOTA_MB * 1024 * 1024
# Where clamd listens, for virus scanning of uploads: unix:///run/clamav/clamd.ctl or
# tcp://127.0.0.1:3310. Empty (the embedded default): files are not scanned.
CLAMAV_ADDRESS = env.str("CLAMAV_ADDRESS", default="").strip()
if CLAMAV_ADDRESS and not re.fullmatch(r"unix:///\S+|tcp://(\[[0-9A-Fa-f:]+\]|[\w.-]+):\d{1,5}", CLAMAV_ADDRESS):
    raise ImproperlyConfigured(
        f"CLAMAV_ADDRESS must be unix:///path/to/clamd.socket or tcp://host:port, not {CLAMAV_ADDRESS!r}."
    )

# --- Email ------------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Apprenticeship Portal <portal@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The address people open the portal at, for links in emails sent outside a request.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

# --- Celery, Redis and the cache ---------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # Embedded default: tasks run in the web process as they are queued.
    CELERY_BROKER_URL = "memory://"
    CELERY_RESULT_BACKEND = "cache+memory://"
    CELERY_TASK_ALWAYS_EAGER = True
    # Progress and the drawn heatmap rows take two entries per apprentice shown: Django's default of
    # 300 entries would forget a 300-apprentice cohort's progress while drawing its second page.
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 20_000}}
    }
CELERY_TASK_EAGER_PROPAGATES = True
# A task is acknowledged only once done, so a worker killed mid-task leaves it for another.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="portal")
CELERY_TIMEZONE = TIME_ZONE
# PDF rendering is heavy: it has its own queue so that its workers can be sized apart.
PDF_QUEUE = env.str("CELERY_PDF_QUEUE", default="pdf")
PDF_WORKER_CONCURRENCY = env_positive_int("PDF_WORKER_CONCURRENCY", 1)
CELERY_TASK_ROUTES = {
    "reviews.tasks.render_export": {"queue": PDF_QUEUE},
    "reviews.tasks.render_export_part": {"queue": PDF_QUEUE},
}
# Limits of one export; past the soft limit it is marked failed with the reason.
EXPORT_SOFT_TIME_LIMIT = env_positive_int("EXPORT_SOFT_TIME_LIMIT", 30 * 60)
EXPORT_TIME_LIMIT = EXPORT_SOFT_TIME_LIMIT + 60
EXPORT_RETENTION_DAYS = env_positive_int("EXPORT_RETENTION_DAYS", 7)
# A message a worker took but never acknowledged (the worker died) goes back on the queue after
# the visibility timeout; it must stay above the export's hard limit or a long render runs twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_positive_int("CELERY_VISIBILITY_TIMEOUT", EXPORT_TIME_LIMIT + 600),
    "unacked_restore_interval": env_positive_int("CELERY_UNACKED_RESTORE_INTERVAL", 10),
    "unacked_restore_throttle": env_positive_int("CELERY_UNACKED_RESTORE_THROTTLE", 10),
}
# Reminders go out once a day at 07:00 (CELERY_TIMEZONE), one entry per kind so that one failing
# kind does not hold the others back.
CELERY_BEAT_SCHEDULE = {
    "delete-expired-exports": {"task": "reviews.tasks.delete_expired_exports", "schedule": 60 * 60},
    "requeue-stalled-exports": {"task": "reviews.tasks.requeue_stalled_exports", "schedule": 5 * 60},
    "clear-expired-sessions": {"task": "portal.tasks.clear_expired_sessions", "schedule": crontab(hour=3, minute=30)},
    **{
        f"send-reminders-{kind.replace('_', '-')}": {
            "task": "reviews.tasks.send_reminders",
            "schedule": crontab(hour=7, minute=0),
            "args": (kind,),
        }
        for kind in ("review_due", "evidence_waiting", "otj_behind", "signatures")
    },
}
# Reminders: submitted evidence waiting this many days for the assessor's decision, and a
# progress review or training plan waiting this many days for its signatures.
REMINDER_EVIDENCE_WAITING_DAYS = env_positive_int("REMINDER_EVIDENCE_WAITING_DAYS", 10)
REMINDER_SIGNATURE_WAITING_DAYS = env_positive_int("REMINDER_SIGNATURE_WAITING_DAYS", 7)

# --- Forms ------------------------------------------------------------------------------------
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Security ---------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
# No script of ours reads the CSRF cookie: forms carry the token in a hidden field, and the
# upload script posts the form's own fields.
CSRF_COOKIE_HTTPONLY = True
# Content Security Policy: scripts and styles come only from our own static files, so an
# injected <script> or inline handler never runs. Inline `style=` attributes are refused too;
# layout lives in static/css/portal.css. No page may be framed by anyone; pages may frame only
# our own file previews (which carry their own policy: evidence/views.py `file_download`).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
    }
}
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # The __Host- prefix makes browsers refuse these cookies unless they are Secure, for this
    # host only and for the whole site, so a sibling subdomain cannot plant or overwrite them.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    SECURE_HSTS_SECONDS = env_positive_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        # Asking browsers to preload HSTS binds the whole registered domain and every subdomain
        # for months and is slow to undo: the domain's owner decides that, not this portal's
        # defaults. Until then `check --deploy` would warn about it on every deployment.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # WeasyPrint logs every page it lays out at INFO: hundreds of lines per export.
    "loggers": {"weasyprint.progress": {"level": "WARNING"}},
}
