"""ECG Review settings, read from the environment (every variable is documented in .env.example).

Unset, everything falls back to a laptop default: SQLite under var/, tasks run in-process, waveforms on
the local filesystem. A value that cannot be understood stops the process with a message naming the
variable: a typo must never silently change how a clinical study is stored.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from ecgreview.env import Env

env = Env()
BASE_DIR = Path(__file__).resolve().parent.parent
# A relative VAR_DIR is taken from the project folder, not from wherever a command starts: every process
# (web, workers, management commands) must agree on one place, and file URIs need an absolute path.
VAR_DIR = (BASE_DIR / env.str("VAR_DIR", "var")).resolve()

# --- Core -----------------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", False)
SECRET_KEY = env.str("SECRET_KEY")
if SECRET_KEY is None:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (see .env.example).")
    SECRET_KEY = "django-insecure-local-development-only-never-in-production"
elif not DEBUG and len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters when DEBUG is off.")
# Former keys, comma-separated, kept while SECRET_KEY is rotated: signed cookies and sealed webhook
# secrets made under them are still read (docs/operations.md).
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", [])

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must list the host names served when DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    # Swagger UI and Redoc as static files of this server: the documentation pages fetch nothing elsewhere.
    "drf_spectacular_sidecar",
    # TOTP devices for two-factor sign-in (annotations/services/credentials/two_factor.py).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "annotations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Before the session and CSRF checks: a body over its endpoint's cap is a 413 before it is read, and
    # a NUL anywhere in the request a 400, before any work.
    "ecgreview.middleware.BodyLimitMiddleware",
    "ecgreview.middleware.RejectNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "ecgreview.middleware.SessionRefreshMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "ecgreview.middleware.LoginRequiredMiddleware",
    "ecgreview.middleware.PasswordChangeRequiredMiddleware",
    "ecgreview.middleware.TwoFactorEnrolmentRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so first to see a view's exception: NotFound and Forbidden become the 404 and 403 pages.
    "annotations.views.errors.ApplicationErrorMiddleware",
]

ROOT_URLCONF = "ecgreview.urls"
WSGI_APPLICATION = "ecgreview.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "annotations.context_processors.roles",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
# PostgreSQL (psycopg 3) in production; an embedded SQLite file when DATABASE_URL is unset.
DATABASE_URL = env.str("DATABASE_URL")


def _database(url: str | None) -> dict:
    if url is None:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            # WAL lets the in-process task runner read while a request writes. The background thread
            # (ecgreview/inprocess.py) writes too: a writer waits up to `timeout` seconds for the other
            # to commit instead of failing with "database is locked"; past it, the request answers 503
            # with Retry-After (annotations.views.errors.busy_refusal).
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": env.int("SQLITE_BUSY_TIMEOUT_S", 30, minimum=1),
            },
        }
    scheme = urlparse(url).scheme
    if scheme not in {"postgres", "postgresql", "sqlite"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL scheme {scheme!r} is not supported; use postgres:// or sqlite:///."
        )
    config = environ.Env.db_url_config(url)
    if scheme != "sqlite":
        config["ENGINE"] = "django.db.backends.postgresql"
        config["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
        config["CONN_HEALTH_CHECKS"] = True
        if not env.bool("DATABASE_JIT", False):
            _turn_jit_off(config)
        _let_hot_queries_be_prepared(config, env.bool("DATABASE_PREPARED_STATEMENTS", True))
    return config


# psycopg prepares a statement once it has run this many times on a connection, but only through a cursor
# that binds on the server. Django's cursors bind on the client and never prepare; the app's own prepared
# cursor asks for it explicitly (annotations/selectors/reading/prepared.py). So this count is never meant
# to be reached: it only keeps prepared statements allowed on the connection.
PREPARE_ONLY_WHEN_ASKED = 2**31 - 1


def _let_hot_queries_be_prepared(config: dict, allowed: bool) -> None:
    """The reader's lock and next-exam queries run as server-side prepared statements: PostgreSQL spent
    more time planning the lock than running it (docs/scaling.md). A connection pooler in transaction
    mode keeps them only from PgBouncer 1.21 on, with max_prepared_statements set; with an older one, set
    DATABASE_PREPARED_STATEMENTS=0 and every query is planned each time, as Django does by default."""
    options = config.setdefault("OPTIONS", {})
    options["prepare_threshold"] = PREPARE_ONLY_WHEN_ASKED if allowed else None


def _turn_jit_off(config: dict) -> None:
    """PostgreSQL JIT-compiles any query its planner costs over jit_above_cost, and this app's large reads
    (a batch's 300k slots grouped for the dashboard, the designer's pool of millions of exams) are run
    once each: compiling them cost more than it saved (docs/scaling.md). Set per connection, so that a
    server kept at PostgreSQL's default (jit on) behaves as the measured one; options the URL already
    gives (?options=...) are kept."""
    options = config.setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c jit=off".strip()


DATABASES = {"default": _database(DATABASE_URL)}
# Covering indexes (INCLUDE) serve PostgreSQL's index-only scans over millions of exams; the embedded
# SQLite default builds them without the included columns, which is all a laptop-sized study needs.
# A unique constraint with INCLUDE Django skips there altogether (W039): migration 0020 gives SQLite the
# same unique index without the included column.
SILENCED_SYSTEM_CHECKS = (
    ["models.W040", "models.W039"] if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" else []
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache and Celery broker ---------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL")
# Seconds a Redis call may take before it counts as failed (cache and broker alike).
REDIS_SOCKET_TIMEOUT = env.int("REDIS_SOCKET_TIMEOUT", 2, minimum=1)
# After a call fails, how long a process leaves that Redis alone: calls fail at once meanwhile, so one
# request waits REDIS_SOCKET_TIMEOUT at most, not once per call (ecgreview/redis_breaker.py).
REDIS_RETRY_AFTER_S = env.int("REDIS_RETRY_AFTER_S", 10, minimum=0)
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", REDIS_URL)
for _name, _url in (("REDIS_URL", REDIS_URL), ("CELERY_BROKER_URL", CELERY_BROKER_URL)):
    if _url is not None and urlparse(_url).scheme not in {"redis", "rediss"}:
        raise ImproperlyConfigured(f"{_name} must be a redis:// or rediss:// URL, got {_url!r}.")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "ecgreview.cache.SharedClientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", "ecgreview"),
            "TIMEOUT": 300,
            # A stopped or frozen Redis must cost a request a moment, never hang it: every cache use
            # (login throttling, coalescing, progress) is optional and catches the error.
            "OPTIONS": {
                "socket_timeout": REDIS_SOCKET_TIMEOUT,
                "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# No broker: tasks run in-process, right after the transaction that queued them commits.
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
# Even in-process, Celery takes a producer from its pool (a connection "for write") around each task it
# runs; with no broker's address kombu assumed an AMQP server on localhost and warned the operator of it
# on every start. The in-memory transport (named with a host, which it ignores) gives that producer
# without pretending to a broker; no message goes through it.
CELERY_BROKER_WRITE_URL = "memory://localhost/" if CELERY_TASK_ALWAYS_EAGER else None
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "annotations.tasks.suggestions_*": {"queue": "models"},
    # A large release's shards: hours of work for the default queue's workers otherwise.
    "annotations.tasks.releases_shard*": {"queue": "releases"},
}
# Longer than the longest task, so an unacknowledged task is only redelivered if its worker died.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", 3 * 3600, minimum=60),
    # Publishing from a request must fail fast when the broker is down or frozen: the write is already
    # committed, and the periodic sweeps queue whatever could not be queued.
    "socket_timeout": REDIS_SOCKET_TIMEOUT,
    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
    # kombu's first connection of a process otherwise retries for CELERY_BROKER_CONNECTION_TIMEOUT (4 s)
    # with 2 s between tries: a refused connection held a request for 6 s. One try, then the sweep.
    "max_retries": 0,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 0.5,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"

# --- Storage --------------------------------------------------------------------------------------
# Waveforms are content-addressed blobs behind Django's storage API: a local folder by default, an
# S3-compatible bucket with WAVEFORM_STORAGE_URL=s3://bucket/prefix.
WAVEFORM_STORAGE_URL = env.str("WAVEFORM_STORAGE_URL", (VAR_DIR / "waveforms").as_uri())


def _waveform_storage(url: str) -> dict:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        # file://var/waveforms reads "var" as a host, and the samples would go to /waveforms.
        if parsed.netloc not in ("", "localhost") or not parsed.path.startswith("/") or parsed.path == "/":
            raise ImproperlyConfigured(
                f"WAVEFORM_STORAGE_URL file:// needs an absolute folder, as file:///srv/waveforms (three "
                f"slashes), not {url!r}."
            )
        return {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            # Content-addressed: a second write of the same key writes the same bytes.
            "OPTIONS": {"location": parsed.path, "allow_overwrite": True},
        }
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ImproperlyConfigured(
                f"WAVEFORM_STORAGE_URL s3:// needs a bucket, as s3://bucket/prefix, not {url!r}."
            )
        return {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": parsed.netloc,
                "location": parsed.path.strip("/"),
                "endpoint_url": env.str("AWS_S3_ENDPOINT_URL"),
                "region_name": env.str("AWS_S3_REGION_NAME"),
                "access_key": env.str("AWS_ACCESS_KEY_ID"),
                "secret_key": env.str("AWS_SECRET_ACCESS_KEY"),
                "file_overwrite": True,
                "default_acl": None,
            },
        }
    raise ImproperlyConfigured(
        f"WAVEFORM_STORAGE_URL scheme {parsed.scheme!r} is not supported; use file:// or s3://."
    )


STATIC_URL = "static/"
# Built into the image (collectstatic at build time), so kept out of VAR_DIR there: a volume mounted on
# VAR_DIR is filled from the image only once, and an upgrade would go on serving the old scripts.
STATIC_ROOT = (BASE_DIR / env.str("STATIC_ROOT", str(VAR_DIR / "staticfiles"))).resolve()
# WhiteNoise scans this folder at start-up; before the first collectstatic it is simply empty.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Served at the site's root: browsers ask for /favicon.ico on pages that name no icon (the admin site,
# Swagger UI), before anyone signs in. static/favicon.svg is the source; the .ico holds 16, 32 and 48 px.
WHITENOISE_ROOT = BASE_DIR / "static" / "root"
MEDIA_ROOT = VAR_DIR / "media"
# Hashed names, and the page modules' imports rewritten to them (ecgreview/staticfiles.py).
_static_backend = (
    "ecgreview.staticfiles.ModuleManifestStaticFilesStorage"
    if env.bool("STATIC_MANIFEST", not DEBUG)
    else "django.contrib.staticfiles.storage.StaticFilesStorage"
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": _static_backend},
    "waveforms": _waveform_storage(WAVEFORM_STORAGE_URL),
}

# A reader's own reads of a batch are listed this many to a page (a reader may hold tens of thousands).
MY_READS_PAGE_SIZE = 100

# --- Imports and privacy --------------------------------------------------------------------------
IMPORT_ROOT = Path(env.str("IMPORT_ROOT", str(VAR_DIR / "imports")))
# A CODE-15% part (20,000 exams of 4096 x 12 float32) is 3.7 GB: the default takes one whole.
IMPORT_MAX_FILE_MB = env.int("IMPORT_MAX_FILE_MB", 4096, minimum=1)
# XML files (aECG, MUSE, Philips), recognised by content: a real 10 s 12-lead export is under 1 MB.
IMPORT_MAX_XML_MB = env.int("IMPORT_MAX_XML_MB", 64, minimum=1)
# What a compressed file inflated whole (a deflated DICOM) may inflate to; counted, never held, first.
IMPORT_MAX_INFLATED_MB = env.int("IMPORT_MAX_INFLATED_MB", 256, minimum=1)
# On the embedded SQLite file, how long an import file waits, in all, for another writer before failing.
IMPORT_SQLITE_WAIT_S = env.int("IMPORT_SQLITE_WAIT_S", 600, minimum=0)
# The whole of one upload request (several files), refused by its Content-Length before it is read.
IMPORT_MAX_UPLOAD_MB = env.int("IMPORT_MAX_UPLOAD_MB", 4 * IMPORT_MAX_FILE_MB, minimum=1)
# "drop": identifying header fields (names, record numbers, birth dates, serials, free text) are
# discarded at import. "keep": they are stored in a coordinator-only field, never shown to readers.
IDENTIFIERS_POLICY = env.choice("IDENTIFIERS_POLICY", "drop", {"drop", "keep"})
# Limits checked against what an imported file declares, before anything large is read.
# Files one upload may carry (Django's DATA_UPLOAD_MAX_NUMBER_FILES, 100 by default): a folder of WFDB
# records is two or three files a record. Larger sets go through the server's import folder (IMPORT_ROOT).
IMPORT_MAX_FILES = env.int("IMPORT_MAX_FILES", 1000, minimum=1)
DATA_UPLOAD_MAX_NUMBER_FILES = IMPORT_MAX_FILES
IMPORT_MAX_SAMPLES_PER_LEAD = env.int("IMPORT_MAX_SAMPLES_PER_LEAD", 2_000_000, minimum=1)
IMPORT_MAX_SIGNALS = env.int("IMPORT_MAX_SIGNALS", 64, minimum=12)
IMPORT_MAX_RECORDS_PER_FILE = env.int("IMPORT_MAX_RECORDS_PER_FILE", 1_000_000, minimum=1)
# Exams written per bulk insert when importing multi-record files (HDF5, PTB-XL).
IMPORT_BATCH_SIZE = env.int("IMPORT_BATCH_SIZE", 500, minimum=1)

# --- Request bodies -------------------------------------------------------------------------------
# Every request body, except on the upload endpoints (IMPORT_MAX_UPLOAD_MB), is refused with 413 by its
# Content-Length before it is read (ecgreview.middleware.BodyLimitMiddleware); a body sent without a length
# is cut at the same size by Django (DATA_UPLOAD_MAX_MEMORY_SIZE). A reader's largest legitimate body, a
# draft with every statement of a 73-statement taxonomy and a 4,000-character comment, is about 20 kB.
REQUEST_MAX_BODY_BYTES = env.int("REQUEST_MAX_BODY_KB", 256, minimum=16) * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_MAX_BODY_BYTES

# --- Auth and sessions ----------------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# ModelBackend, with the user's roles read in the same query as the user.
AUTHENTICATION_BACKENDS = ["annotations.backends.RolesBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Idle sessions expire: a request pushes the expiry forward to this much from now, writing the session at
# most once per SESSION_REFRESH_S (ecgreview.middleware.SessionRefreshMiddleware).
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_MINUTES", 60, minimum=1) * 60
SESSION_REFRESH_S = 60
# Django's database sessions, read with one plain query (ecgreview/sessions.py).
SESSION_ENGINE = "ecgreview.sessions"
SESSION_SAVE_EVERY_REQUEST = False
# Failed logins before an account (or an address) is locked out, and for how long.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1)
# Two-factor sign-in (TOTP): any local account may enrol; with this on, coordinators and adjudicators
# must enrol before anything else, and sign in with a code from then on (docs/tokens-and-2fa.md).
TWO_FACTOR_REQUIRED_FOR_STAFF = env.bool("TWO_FACTOR_REQUIRED_FOR_STAFF", False)
# The issuer an authenticator app shows beside the account name.
TWO_FACTOR_ISSUER = env.str("TWO_FACTOR_ISSUER", "ECG Review")
OTP_TOTP_ISSUER = TWO_FACTOR_ISSUER
# django-otp's own back-off after a wrong code would refuse the next right one silently for seconds;
# wrong codes count towards the sign-in lockout above instead (services.auth), with its clear message.
OTP_TOTP_THROTTLE_FACTOR = 0
# API tokens: the longest life a token may be given (days), and the default.
API_TOKEN_MAX_DAYS = env.int("API_TOKEN_MAX_DAYS", 365, minimum=1)
API_TOKEN_DEFAULT_DAYS = env.int("API_TOKEN_DEFAULT_DAYS", 90, minimum=1)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- Single sign-on (OpenID Connect) ----------------------------------------------------------------
# Off unless OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET are all set; set only some of them and the
# system check (annotations/single_sign_on.py) stops every command, the server included
# (docs/single-sign-on.md). The provider's endpoints are read from its discovery document
# (OIDC_ISSUER/.well-known/openid-configuration) at the first sign-in.
OIDC_ISSUER = env.str("OIDC_ISSUER")
OIDC_CLIENT_ID = env.str("OIDC_CLIENT_ID")
OIDC_CLIENT_SECRET = env.str("OIDC_CLIENT_SECRET")
# The button on the sign-in page reads "Sign in with <this>".
OIDC_PROVIDER_NAME = env.str("OIDC_PROVIDER_NAME", "single sign-on")
OIDC_SCOPES = env.str("OIDC_SCOPES", "openid email profile")
# The claim listing the person's groups (or app roles), and which of them give which role: group=role
# pairs separated by commas, or a JSON object {"group": "role" or ["role", ...]}. Unset: roles are not
# managed by the provider, coordinators give them on the People page. Set: every sign-in replaces the
# account's roles with the mapped ones (a group removed at the provider loses its role).
OIDC_GROUPS_CLAIM = env.str("OIDC_GROUPS_CLAIM", "groups")
OIDC_ROLE_MAP = env.str("OIDC_ROLE_MAP", "")
# Whether a first sign-in makes an account (with no password); off, only people already linked (or
# linked by a verified email address, below) sign in.
OIDC_CREATE_ACCOUNTS = env.bool("OIDC_CREATE_ACCOUNTS", True)
# Link a first sign-in to the one local account with the same address, if the provider says it verified
# it (email_verified). Off by default: trust it only where the provider's addresses cannot be chosen.
OIDC_LINK_BY_EMAIL = env.bool("OIDC_LINK_BY_EMAIL", False)
# The claim a new account's username is taken from (made unique; the subject if the claim is missing).
OIDC_USERNAME_CLAIM = env.str("OIDC_USERNAME_CLAIM", "preferred_username")
# The ID token's signature, checked against the provider's published keys (jwks_uri).
OIDC_SIGN_ALGORITHM = env.choice("OIDC_SIGN_ALGORITHM", "RS256", {"RS256", "RS384", "RS512", "ES256"})
OIDC_TIMEOUT_S = env.int("OIDC_TIMEOUT_S", 10, minimum=1)
# Coordinators and adjudicators who sign in through the provider must have shown a second factor there:
# the ID token's amr says "mfa", or names a method beyond what the person knows (RFC 8176), or its acr is
# one of OIDC_MFA_ACR. On wherever two-factor sign-in is required of staff, so that single sign-on is
# no way around it; off for a provider that says nothing of how people signed in (Google).
OIDC_REQUIRE_MFA_FOR_STAFF = env.bool("OIDC_REQUIRE_MFA_FOR_STAFF", TWO_FACTOR_REQUIRED_FOR_STAFF)
# The acr values that stand for a multi-factor sign-in at this provider (a Keycloak level of
# authentication, say), comma-separated; when set, the sign-in request asks for them (acr_values).
OIDC_MFA_ACR = env.list("OIDC_MFA_ACR", [])
AUTHENTICATION_BACKENDS += ["annotations.single_sign_on.OpenIdBackend"]

# --- Security headers -----------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", not DEBUG)
# TLS is usually terminated by a reverse proxy in front of gunicorn; these two are for the operator
# who serves HTTPS end to end (docs/operations.md, "check --deploy").
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
# Preloading is a lasting commitment to HTTPS for the whole domain: opt in explicitly.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", False)
if env.bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# !! Behind a reverse proxy, set this, or every client has the proxy's address: the audit trail records
# the proxy, and the per-address login limit counts everybody together (ecgreview/client_address.py).
# Addresses or CIDR networks of the proxies whose X-Forwarded-For is believed; the client is the
# right-most address in that header that is none of them. Empty (the default): REMOTE_ADDR is the client.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", [])
try:
    from ecgreview.client_address import trusted_proxy_networks

    trusted_proxy_networks(TRUSTED_PROXIES)
except ValueError as _error:
    raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_error}.") from None
# Or, where the proxies have no fixed address (a cloud load balancer): how many proxies append to
# X-Forwarded-For; the client is that many entries from its right. 0 (the default): not used.
TRUSTED_PROXY_HOPS = env.int("TRUSTED_PROXY_HOPS", 0, minimum=0)
if TRUSTED_PROXIES and TRUSTED_PROXY_HOPS:
    raise ImproperlyConfigured(
        "set TRUSTED_PROXIES or TRUSTED_PROXY_HOPS, not both: they are two ways of naming the same proxies."
    )
if env.bool("BEHIND_TLS_PROXY", False) and not (TRUSTED_PROXIES or TRUSTED_PROXY_HOPS):
    raise ImproperlyConfigured(
        "BEHIND_TLS_PROXY is on but neither TRUSTED_PROXIES or TRUSTED_PROXY_HOPS is set: every client "
        "would have the proxy's address (in the audit trail and in the per-address login limit). List the "
        "proxy's address or network, or give the number of proxies."
    )


def _origin(url: str | None) -> str | None:
    parsed = urlparse(url or "")
    return f"{parsed.scheme}://{parsed.netloc}" if parsed.scheme and parsed.netloc else None


# One small JS file per page and no inline script: the policy can forbid everything else.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    # Plotly writes a few style rules at run time; styles cannot run code.
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    # Signing out of a provider's session too (RP-initiated logout) is a redirect of the logout form there.
    "form-action": [CSP.SELF, *([_oidc_origin] if (_oidc_origin := _origin(OIDC_ISSUER)) else [])],
}

# --- API ------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # The token first: a bad token is a 401 with `WWW-Authenticate: Token` (no token: 403, as before).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "annotations.api.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # SignedIn is IsAuthenticated that declares its roles (none needed) for the access-matrix test.
    "DEFAULT_PERMISSION_CLASSES": ["annotations.api.permissions.SignedIn"],
    "DEFAULT_SCHEMA_CLASS": "annotations.api.schema.DocstringSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSON parser, refusing lone surrogates and deep nesting as bad input (ecgreview/json_body.py).
    "DEFAULT_PARSER_CLASSES": ["ecgreview.json_body.StrictJSONParser"],
    "EXCEPTION_HANDLER": "annotations.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ECG Review API",
    "VERSION": "1",
    "DESCRIPTION": (
        "Everything the pages do, for scripts: import exams, design and run batches, read blind, "
        "adjudicate, measure agreement and build releases. Scripts send an API token (`Authorization: "
        "Token <secret>`, from the People page); the pages' own calls carry the session cookie, and their "
        "writes its CSRF token (X-CSRFToken). Each role sees what its pages show, and a reader gets 404 for "
        "anything that is not theirs. A Python client can be generated from this schema: `make client` "
        "(docs/api-client.md).\n\n"
        # The waveforms are plain Django views, so no operation below describes them.
        "**Waveforms** are binary downloads, outside the operations listed here (GET only):\n\n"
        "* `/api/v1/reading/assignments/{id}/waveform/`: a reader's own assignment;\n"
        "* `/api/v1/reading/assignments/{id}/priors/{n}/waveform/`: earlier ECG `n` of its patient "
        "(see the reading context's `priors`);\n"
        "* `/api/v1/adjudication/{batch_id}/{exam_id}/waveform/`: an adjudicator's case;\n"
        "* `/api/v1/exams/{exam_id}/waveform/`: any exam, for coordinators.\n\n"
        "Each answers 404 for what the caller may not see, and 403 without the role. The body "
        "(application/octet-stream) is int16 little-endian samples, lead by lead: every sample of the "
        "first lead, then of the next, in the order of `X-ECG-Leads` (comma-separated, the standard leads "
        "first). `X-ECG-Samples` gives the samples per lead, `X-ECG-Sampling-Rate` the rate in Hz, "
        "and `X-ECG-Gain-uV` the microvolts of one unit. The body is gzip-compressed (`Content-Encoding: "
        "gzip`) when the request accepts gzip. Responses carry an `ETag`, the caller's own for that "
        "content, and `Cache-Control: private, max-age=3600`; a request with `If-None-Match` set to it "
        "answers 304 without a body."
    ),
    # Operations are tagged by the first path segment after this prefix: exams, batches, reads...
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # drf-spectacular's own enum hook, then the shape of every refusal (annotations.api.schema).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "annotations.api.schema.refusals_declared",
    ],
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["annotations.api.permissions.SignedIn"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "/favicon.ico",  # the app's icon, not Swagger's (WHITENOISE_ROOT)
    "REDOC_DIST": "SIDECAR",
    # One schema name per choice set used by several serializers: the exam list's grade and the designer's
    # grade criteria; the exam's sex in the exam list and the exam detail.
    "ENUM_NAME_OVERRIDES": {
        "QualityGradeEnum": "annotations.models.exams.QualityGrade",
        "SexEnum": "annotations.models.exams.Exam.Sex",
        # A subscription's events and a delivery's event: one enum for a generated client, not two.
        "WebhookEventEnum": "annotations.models.webhooks.WebhookEvent",
        # A benchmark's status in its list and on its own page (BenchmarkDetail): one enum, not two.
        "BenchmarkStatusEnum": "annotations.models.benchmarks.Benchmark.Status",
    },
}

# --- Internationalisation -------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("pt-br", "Português (Brasil)")]
LOCALE_PATHS = [BASE_DIR / "annotations" / "locale"]
# English dates as ISO writes them (ecgreview/formats/en); Portuguese ones as Django's pt_BR does.
FORMAT_MODULE_PATH = ["ecgreview.formats"]
# Times are shown in this zone (an IANA name: America/Sao_Paulo); stored in UTC whatever it is. The
# dashboards count reads per day in it, and PostgreSQL's statistics of that day (migration 0035) are of the
# zone set when they were made: changed later, rebuild them (docs/scaling.md, "Statistics").
TIME_ZONE = env.str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Logging --------------------------------------------------------------------------------------
# One console handler, on the root logger. Django's own "django" logger would print every record a second
# time under DEBUG (its console handler, then the root's), so it only passes its records on; a refused
# request (4xx) is logged in one line without the traceback of the exception that refused it.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"client_errors": {"()": "ecgreview.logfilters.ClientErrorsWithoutTraceback"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["client_errors"]}
    },
    "loggers": {"django": {"handlers": [], "level": "INFO", "propagate": True}},
    "root": {
        "handlers": ["console"],
        "level": env.choice("LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}),
    },
}

# --- Model suggestions ----------------------------------------------------------------------------
# Providers (annotations.lib.providers) by configuration: a JSON list of dotted class paths or
# {"class": ..., "options": {...}} objects, or a plain comma-separated list of dotted paths. Only the
# shape is checked here (importing neurokit2/onnxruntime in every process that reads settings would
# slow every management command); the providers themselves are built, and fail loudly, when a worker
# first uses them (annotations.services.suggestions.suggestion_providers).
SUGGESTION_MODELS_DIR = Path(env.str("SUGGESTION_MODELS_DIR", str(VAR_DIR / "models")))


def _suggestion_providers(raw: str | None) -> list:
    import json

    if raw is None:
        # The rule and quality providers cost a few ms per exam, so they run everywhere. The codec takes
        # ~0.8 s per exam on one core: with a worker it runs on the models queue; on the embedded default
        # (no broker) tasks run inside the request that creates a batch, so it is left to explicit
        # configuration there.
        cheap = [
            "annotations.lib.providers.measurements.MeasurementProvider",
            "annotations.lib.providers.quality.QualityProvider",
        ]
        return (
            [*cheap, "annotations.lib.providers.openecg_codec.OpenEcgProvider"]
            if CELERY_BROKER_URL
            else cheap
        )
    if raw.lower() in {"none", "off"}:
        return []
    if raw.startswith("{"):
        raise ImproperlyConfigured(
            'SUGGESTION_PROVIDERS is one JSON object: give a JSON list, [{"class": ..., "options": {...}}].'
        )
    if raw.startswith("["):
        try:
            entries = json.loads(raw)
        except json.JSONDecodeError as error:
            raise ImproperlyConfigured(f"SUGGESTION_PROVIDERS is not valid JSON ({error}).") from None
    else:
        entries = [item.strip() for item in raw.split(",") if item.strip()]
    for entry in entries:
        plain = isinstance(entry, str) and "." in entry
        structured = (
            isinstance(entry, dict)
            and set(entry) <= {"class", "options"}
            and isinstance(entry.get("class"), str)
            and isinstance(entry.get("options", {}), dict)
        )
        if not (plain or structured):
            raise ImproperlyConfigured(
                f"SUGGESTION_PROVIDERS entry {entry!r} must be a dotted class path or "
                '{"class": "dotted.Path", "options": {...}}.'
            )
        module = (entry if plain else entry["class"]).rpartition(".")[0]
        if not _module_file(module):
            raise ImproperlyConfigured(f"SUGGESTION_PROVIDERS: no module {module} (entry {entry!r}).")
    return entries


def _module_file(module: str) -> bool:
    """Whether a module's source is on the path, looked up without importing it: the providers import
    numpy, onnxruntime and neurokit2, which every process reading the settings would then pay for."""
    import sys

    parts = module.split(".")
    for base in sys.path:
        where = Path(base or ".").joinpath(*parts)
        if where.with_suffix(".py").is_file() or (where / "__init__.py").is_file():
            return True
    return False


SUGGESTION_PROVIDERS = _suggestion_providers(env.str("SUGGESTION_PROVIDERS"))
# The provider whose suggestion readers are shown (one per exam, so every reader of a batch sees the
# same one); an exam without it falls back to the newest suggestion of any provider. Not checked against
# SUGGESTION_PROVIDERS: an ONNX model's name comes from its mapping file, read only when the provider is
# built, and suggestions imported with the exams carry the names of providers that never run here.
SUGGESTION_READER_PROVIDER = env.str("SUGGESTION_READER_PROVIDER", "measurements")
# How often the sweep looks for exams of active batches still missing suggestions (a lost enqueue,
# Redis down at batch creation, a newly configured provider), and how many exams it queues per run.
SUGGESTION_SWEEP_MINUTES = env.int("SUGGESTION_SWEEP_MINUTES", 15, minimum=1)
SUGGESTION_SWEEP_LIMIT = env.int("SUGGESTION_SWEEP_LIMIT", 2000, minimum=1)
CELERY_BEAT_SCHEDULE = {
    **globals().get("CELERY_BEAT_SCHEDULE", {}),
    "suggestions-sweep": {
        "task": "annotations.tasks.suggestions_sweep",
        "schedule": SUGGESTION_SWEEP_MINUTES * 60.0,
    },
}

# --- Agreement and consensus ----------------------------------------------------------------------
# Seconds a recomputation waits after the first submission of a quiet batch: every submission in that
# window is covered by the one recomputation.
AGREEMENT_RECOMPUTE_DELAY_S = env.int("AGREEMENT_RECOMPUTE_DELAY_S", 10, minimum=0)
# How long the "a recomputation is queued" key outlives the countdown, in case the task is lost.
AGREEMENT_PENDING_GRACE_S = env.int("AGREEMENT_PENDING_GRACE_S", 60, minimum=1)
# Bootstrap resamples for the confidence intervals (over exams).
AGREEMENT_BOOTSTRAP_RESAMPLES = env.int("AGREEMENT_BOOTSTRAP_RESAMPLES", 1000, minimum=50)
# The sweep that recomputes batches whose reads are newer than their stored agreement (celery beat).
AGREEMENT_SWEEP_SECONDS = env.int("AGREEMENT_SWEEP_SECONDS", 600, minimum=10)
CELERY_BEAT_SCHEDULE = {
    **globals().get("CELERY_BEAT_SCHEDULE", {}),
    "agreement-sweep": {"task": "annotations.tasks.agreement_sweep", "schedule": AGREEMENT_SWEEP_SECONDS},
}

# --- Jobs left queued by a broker outage ----------------------------------------------------------
# How often beat looks for import jobs and releases still queued whose message was lost (enqueue failed
# while Redis was down, or Redis lost its data), how old such a row must be, and how many one sweep queues.
JOBS_SWEEP_SECONDS = env.int("JOBS_SWEEP_SECONDS", 60, minimum=5)
JOBS_REQUEUE_AFTER_S = env.int("JOBS_REQUEUE_AFTER_S", 60, minimum=1)
JOBS_SWEEP_LIMIT = env.int("JOBS_SWEEP_LIMIT", 500, minimum=1)
# A running import or release build beats every JOBS_HEARTBEAT_S; one silent for JOBS_STALLED_AFTER_S (its
# worker was killed) is queued again by the jobs sweep rather than waiting CELERY_VISIBILITY_TIMEOUT for
# redelivery. Longer than any stretch of a job without a beat (opening a 4 GB file, one large insert).
JOBS_STALLED_AFTER_S = env.int("JOBS_STALLED_AFTER_S", 600, minimum=30)
JOBS_HEARTBEAT_S = env.int("JOBS_HEARTBEAT_S", 30, minimum=0)
CELERY_BEAT_SCHEDULE = {
    **globals().get("CELERY_BEAT_SCHEDULE", {}),
    "jobs-sweep": {"task": "annotations.tasks.jobs_sweep", "schedule": float(JOBS_SWEEP_SECONDS)},
}

# --- Webhooks -------------------------------------------------------------------------------------
# Receivers on this server's own networks are refused (a webhook is a request the server makes on a
# coordinator's word): loopback unless WEBHOOK_ALLOW_LOOPBACK (a receiver on the same machine, tests),
# private ranges unless WEBHOOK_ALLOW_PRIVATE_NETWORKS (a lab's receiver on the hospital's network).
WEBHOOK_ALLOW_LOOPBACK = env.bool("WEBHOOK_ALLOW_LOOPBACK", False)
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env.bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", False)
# Attempts per delivery; the first retry waits WEBHOOK_BACKOFF_S, each next one twice as long, at most
# WEBHOOK_MAX_BACKOFF_S (8 attempts of 30 s doubling: about an hour of retries).
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1)
WEBHOOK_BACKOFF_S = env.int("WEBHOOK_BACKOFF_S", 30, minimum=0)
WEBHOOK_MAX_BACKOFF_S = env.int("WEBHOOK_MAX_BACKOFF_S", 3600, minimum=1)
WEBHOOK_TIMEOUT_S = env.int("WEBHOOK_TIMEOUT_S", 10, minimum=1)
# The links in payloads start with this address (https://ecg.example.org); empty: the address the
# subscribing coordinator's request reached. An outgoing proxy for deliveries, if egress needs one.
WEBHOOK_LINK_BASE = env.str("WEBHOOK_LINK_BASE", "") or ""
WEBHOOK_PROXY = env.str("WEBHOOK_PROXY", "") or ""
# The sweep queues again deliveries due this long whose message was lost (beat, every WEBHOOK_SWEEP_SECONDS).
WEBHOOK_SWEEP_SECONDS = env.int("WEBHOOK_SWEEP_SECONDS", 60, minimum=5)
WEBHOOK_SWEEP_AFTER_S = env.int("WEBHOOK_SWEEP_AFTER_S", 60, minimum=0)
CELERY_BEAT_SCHEDULE = {
    **globals().get("CELERY_BEAT_SCHEDULE", {}),
    "webhooks-sweep": {"task": "annotations.tasks.webhooks_sweep", "schedule": float(WEBHOOK_SWEEP_SECONDS)},
}

# --- Label releases -------------------------------------------------------------------------------
# Where built releases are kept (coordinators download them through the app, never directly).
RELEASE_STORAGE_DIR = Path(env.str("RELEASE_STORAGE_DIR", str(VAR_DIR / "releases")))
STORAGES["releases"] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": str(RELEASE_STORAGE_DIR)},
}
# A release of more exams than this keeps its tracings in files of this many exams (tracings-000.hdf5,
# ...), each written by its own task on the releases queue, so that several workers share a large one;
# fixed per release when it is asked for. 5,000 exams are about 1 GB of float32 tracings.
RELEASE_SHARD_EXAMS = env.int("RELEASE_SHARD_EXAMS", 5000, minimum=1)
# A benchmark submission's file (NPY or CSV of per-class scores): 100,000 exams x 74 classes of float64
# is 59 MB. Larger bodies are refused by their Content-Length before they are read.
BENCHMARK_MAX_SUBMISSION_MB = env.int("BENCHMARK_MAX_SUBMISSION_MB", 64, minimum=1)
# Tries at writing a new benchmark's tracings before it is marked failed, with the reason, instead of
# the jobs sweep queueing it again for ever (an exam's waveform gone from storage fails every try).
BENCHMARK_PREPARE_TRIES = env.int("BENCHMARK_PREPARE_TRIES", 3, minimum=1)
