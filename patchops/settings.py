"""PatchOps settings, driven by the environment (see .env.example).

Required values have no defaults and fail fast: SECRET_KEY, DATABASE_URL, REDIS_URL, ALLOWED_HOSTS.
Any variable may instead be given as <NAME>_FILE pointing at a file holding the value (secrets).
"""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent


class FileAwareEnv(environ.Env):
    """Reads <NAME>_FILE when <NAME> is unset, so secrets can come from mounted files."""

    def get_value(self, var, cast=None, default=environ.Env.NOTSET, parse_default=False):
        file_var = f"{var}_FILE"
        if var not in self.ENVIRON and file_var in self.ENVIRON:
            return self.parse_value(Path(self.ENVIRON[file_var]).read_text().strip(), cast)
        return super().get_value(var, cast=cast, default=default, parse_default=parse_default)


env = FileAwareEnv()
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    environ.Env.read_env(BASE_DIR / ".env")

# --- Core -------------------------------------------------------------------------------------
SECRET_KEY = env("SECRET_KEY")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

SHARED_APPS = [
    "django_tenants",
    "tenants",
    # Second factors (public schema, beside the users): TOTP apps and recovery codes. Before
    # accounts, whose admin module withdraws their admin pages.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "accounts",
    "catalogue",
    "uploads",
    "policytemplates",
    "scorecards",
    # Webhook endpoints (public schema: an MSP endpoint hears every client); their deliveries
    # are outbox messages in each client's schema.
    "webhooks",
    "dashboard",
    "demo",
    # Public schema beside the users: notifications, preferences and the MSP's chat channels.
    "notifications",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
]
TENANT_APPS = [
    "inventory",
    # The project package: no models of its own, only the migrations that created the findings
    # tables before they moved to ``findings``.
    "patchops",
    "findings",
    "compliance",
    "rings",
    "exceptions_register",
    "privileged",
    "evidence",
    "integrations",
    # Exposure alerts and their triage (premium tier): above notifications, below reports.
    "exposure",
    "reports",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

MIDDLEWARE = [
    "common.middleware.SecurityHeadersMiddleware",
    "common.middleware.RequestLimitsMiddleware",
    "tenants.middleware.ClientSubfolderMiddleware",
    "tenants.middleware.ClientTimezoneMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.sessions.SessionLifetimeMiddleware",
    # A signed-in user who needs a second factor and has not given it reaches no page.
    "accounts.middleware.SecondFactorMiddleware",
    # A POST to the API repeated with the same Idempotency-Key gets the first answer back.
    "common.idempotency.IdempotencyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "common.middleware.DependencyErrorMiddleware",
    # Turns a refused sign-in (too many failures) into the lockout page (accounts.lockout).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "patchops.urls"
PUBLIC_SCHEMA_URLCONF = "patchops.urls_public"
WSGI_APPLICATION = "patchops.wsgi.application"

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
                "tenants.context_processors.portal",
            ],
        },
    }
]

# --- Database and tenancy (django-tenants) -----------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
# Persistent connections, checked before each request reuses one (a restarted PostgreSQL costs
# one reconnect, not an error). CONN_MAX_AGE=0 when a transaction-mode pooler sits in between.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)
# django-tenants issues ``SET search_path`` once after each change of schema (``set_tenant``,
# ``schema_context``; again after a rollback or a reconnect) instead of before every statement:
# half the round trips of a request were those SETs.
TENANT_LIMIT_SET_CALLS = True
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TENANT_MODEL = "tenants.Client"
TENANT_DOMAIN_MODEL = "tenants.Domain"
TENANT_SUBFOLDER_PREFIX = "clients"
# New clients clone this migrated template schema instead of replaying every migration.
TENANT_BASE_SCHEMA = "tenant_template"
TENANT_CREATION_FAKES_MIGRATIONS = True
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False
# How `bootstrap` migrates the client schemas for a release: "standard" one after another,
# "multiprocessing" TENANT_MULTIPROCESSING_MAX_PROCESSES schemas at a time (django-tenants'
# executors; `bootstrap --executor` overrides). With many clients, parallel on every core.
TENANT_MIGRATION_EXECUTOR = env("TENANT_MIGRATION_EXECUTOR", default="standard")
TENANT_MULTIPROCESSING_MAX_PROCESSES = env.int("TENANT_MULTIPROCESSING_MAX_PROCESSES", default=2)
TENANT_MULTIPROCESSING_CHUNKS = env.int("TENANT_MULTIPROCESSING_CHUNKS", default=2)

# --- Auth -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "tenants.User"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = env.list(
    "PASSWORD_HASHERS",
    default=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    ],
)

# Sessions: idle timeouts (MSP staff shorter than client users) and an absolute lifetime, enforced
# by accounts.sessions.SessionLifetimeMiddleware; the cookie never outlives the lifetime either.
SESSION_IDLE_TIMEOUT_STAFF_MINUTES = env.int("SESSION_IDLE_TIMEOUT_STAFF_MINUTES", default=30)
SESSION_IDLE_TIMEOUT_CLIENT_MINUTES = env.int("SESSION_IDLE_TIMEOUT_CLIENT_MINUTES", default=120)
SESSION_ABSOLUTE_LIFETIME_HOURS = env.int("SESSION_ABSOLUTE_LIFETIME_HOURS", default=12)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_LIFETIME_HOURS * 3600
# A password reset link works once and for this many seconds.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)
# An invitation link works once and for this many hours.
INVITATION_MAX_AGE_HOURS = env.int("INVITATION_MAX_AGE_HOURS", default=72)
# The portal's address, for links in mail sent outside a request (management commands).
PORTAL_URL = env("PORTAL_URL", default="http://127.0.0.1:8000")
# Second factors (django-otp): the issuer name authenticator apps show beside the account.
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default="PatchOps")
# --- Passkeys (WebAuthn) ---------------------------------------------------------------------
# The relying party: its ID is the portal's host name (or a registrable suffix of it), the origin
# is what the browser reports (scheme, host, port; several may be given, comma-separated).
WEBAUTHN_RP_ID = env("WEBAUTHN_RP_ID", default="localhost")
WEBAUTHN_ORIGIN = env.list("WEBAUTHN_ORIGIN", default=["http://localhost:8000"])
WEBAUTHN_RP_NAME = env("WEBAUTHN_RP_NAME", default="PatchOps")
# --- Sign-in lockout (django-axes; accounts/lockout.py) -----------------------------------------
# A failed password counts against the e-mail address tried from that address (locked after
# LOGIN_FAILURE_LIMIT failures) and against the address as a whole (LOGIN_IP_FAILURE_LIMIT, for
# guesses spread over many accounts). Both lift after LOGIN_LOCKOUT_MINUTES or an unlock.
AUTHENTICATION_BACKENDS = [
    "accounts.lockout.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_IP_FAILURE_LIMIT = env.int("LOGIN_IP_FAILURE_LIMIT", default=20)
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", default=30)
# Reverse proxies in front of the portal that append to X-Forwarded-For (0: use the peer address).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_HANDLER = "accounts.lockout.LockoutHandler"
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]  # the address-wide limit: LockoutHandler
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_RESET_ON_SUCCESS = True  # only that e-mail address's failures from that address
AXES_USERNAME_FORM_FIELD = "username"  # what the sign-in form posts (an e-mail address)
AXES_USERNAME_CALLABLE = "accounts.lockout.username_of"
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are in the audit log
AXES_ENABLE_ADMIN = False  # accounts.admin lists lockouts and lifts them (audited)
AXES_VERBOSE = False

# --- Security ---------------------------------------------------------------------------------
SECURE_COOKIES = env.bool("SECURE_COOKIES", default=not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Sent on every response by common.middleware.SecurityHeadersMiddleware. Scripts and styles come
# only from this origin's files (no inline script, event handler or style attribute anywhere;
# the API docs load Swagger UI's init script as a file too); images also as data: URIs
# (Swagger UI's icons). CSP_REPORT_URI adds a report-uri for violation reports.
CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
# Django's admin (its own pages, staff only) writes inline styles: there styles may be inline.
CONTENT_SECURITY_POLICY_PATHS = {"/admin/": {"style-src": ["'self'", "'unsafe-inline'"]}}
if env("CSP_REPORT_URI", default=""):
    CONTENT_SECURITY_POLICY["report-uri"] = [env("CSP_REPORT_URI")]
# Browser features no page uses are off for every origin; WebAuthn (passkeys) and fullscreen
# stay allowed for this origin only.
PERMISSIONS_POLICY = {
    "accelerometer": [],
    "autoplay": [],
    "camera": [],
    "display-capture": [],
    "encrypted-media": [],
    "geolocation": [],
    "gyroscope": [],
    "hid": [],
    "idle-detection": [],
    "magnetometer": [],
    "microphone": [],
    "midi": [],
    "payment": [],
    "picture-in-picture": [],
    "screen-wake-lock": [],
    "serial": [],
    "usb": [],
    "xr-spatial-tracking": [],
    "fullscreen": ["self"],
    "publickey-credentials-create": ["self"],
    "publickey-credentials-get": ["self"],
}

# --- Internationalisation ----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media files ----------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / ".data" / "media")
MEDIA_URL = "/media/"
STORAGES = {
    # Per-client folders: files of one client live under MEDIA_ROOT/<schema>/.
    "default": {"BACKEND": "django_tenants.files.storage.TenantFileSystemStorage"},
    "staticfiles": {
        "BACKEND": env(
            "STATICFILES_BACKEND",
            default="whitenoise.storage.CompressedManifestStaticFilesStorage",
        )
    },
}
MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"

# --- Cache (tenant-keyed) ---------------------------------------------------------------------
REDIS_URL = env("REDIS_URL")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="patchops"),
    },
    # Last activity of each signed-in session (accounts.sessions), keyed by the session key: a
    # session belongs to the public schema and reads the same under every client's URL, so this
    # one cache is not tenant-keyed.
    "activity": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="patchops") + "-activity",
    },
}

# --- E-mail -------------------------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="patchops@localhost")
# The daily digest of notifications: the local hour and time zone a user gets until they choose.
NOTIFICATIONS_DIGEST_HOUR = env.int("NOTIFICATIONS_DIGEST_HOUR", default=7)
NOTIFICATIONS_DIGEST_TIME_ZONE = env("NOTIFICATIONS_DIGEST_TIME_ZONE", default="UTC")

# How long the answer to an API POST with an Idempotency-Key is kept for its repeats.
IDEMPOTENCY_TTL_HOURS = env.int("IDEMPOTENCY_TTL_HOURS", default=24)

# --- Django REST framework and drf-spectacular ---------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # tenants.authentication.ApiTokenAuthentication, its refusals throttled and audited
        "accounts.token_auth.AuditedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["tenants.permissions.ClientAccess"],
    "DEFAULT_PARSER_CLASSES": [
        "common.apiparsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "common.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "common.apifilters.StrictFilterBackend",
        "common.apifilters.StrictSearchFilter",
        "common.apifilters.StrictOrderingFilter",
        "common.apisync.UpdatedSinceFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_VERSIONING_CLASS": None,
    "EXCEPTION_HANDLER": "common.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# Refused Bearer tokens per client address (accounts.token_auth) before it answers 429.
API_TOKEN_FAILURE_RATE = env("API_TOKEN_FAILURE_RATE", default="10/minute")
SPECTACULAR_SETTINGS = {
    "TITLE": "PatchOps API",
    "DESCRIPTION": (
        "Patch SLA, inventory, rollouts, exceptions and evidence for MSP clients.\n\n"
        "Every POST accepts an `Idempotency-Key` header (1–255 printable ASCII characters): a "
        "repeat of the request with the same key and body, by the same caller, within "
        "IDEMPOTENCY_TTL_HOURS, answers the first answer again (with `Idempotent-Replayed: "
        "true`) instead of changing anything twice; the same key with another body answers 422, "
        "and a repeat while the first is still running 409."
    ),
    "VERSION": "1.0.0",
    # Enum components first (drf-spectacular's own), then a summary and an example for every
    # operation that does not give its own (common.apischema).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "common.apischema.complete_operations",
    ],
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_URLCONF": "patchops.urls_schema",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several resources have fields of the same name with their own choices: name each enum.
    "ENUM_NAME_OVERRIDES": {
        "AssetSourceEnum": "inventory.choices.AssetSource",
        "UpdateSourceEnum": "inventory.choices.UpdateSource",
        "DiscoveryRunSourceEnum": "inventory.choices.DiscoveryRunSource",
        "DiscoveryRunStatusEnum": "inventory.choices.DiscoveryRunStatus",
        "SoftwareKindEnum": "inventory.choices.SoftwareKind",
        "SoftwareChangeKindEnum": "inventory.choices.SoftwareChangeKind",
        "ExceptionKindEnum": "exceptions_register.choices.ExceptionKind",
        "ExceptionStateEnum": "exceptions_register.choices.ExceptionState",
        "ControlKindEnum": "exceptions_register.choices.ControlKind",
        "ReportKindEnum": "reports.models.ReportKind",
        "ImportKindEnum": "catalogue.choices.ImportKind",
        "SeverityTierEnum": "catalogue.choices.SeverityTier",
        "AdvisorySourceEnum": "catalogue.choices.AdvisorySource",
        "FindingStateEnum": "findings.choices.FindingState",
        "OsFamilyEnum": "common.choices.OsFamily",
        "PolicyApproverEnum": "policytemplates.choices.PolicyApprover",
        "JobActionEnum": "integrations.choices.JobAction",
        "OffboardingItemActionEnum": "privileged.choices.ItemAction",
        # Outbox messages and webhook deliveries share their states.
        "OutboxMessageStateEnum": "integrations.choices.DeliveryState",
    },
}

# --- Celery --------------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# A task is acknowledged when it ends, so a worker that dies mid-task leaves it to be re-queued:
# at once when the worker process is lost, after the visibility timeout when the whole worker
# is (the timeout is a little longer than the longest task may run).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=20 * 60)
}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Tasks go to the queues ingest, reports and rollouts, or the default one (patchops/queues.py),
# so that each kind of work has workers of its own; the prefix lets installations share a broker.
CELERY_QUEUE_PREFIX = env("CELERY_QUEUE_PREFIX", default="")
CELERY_TASK_DEFAULT_QUEUE = f"{CELERY_QUEUE_PREFIX}celery"
CELERY_TASK_ROUTES = ["patchops.queues.route_task"]
# A task's result names the worker that ran it (and its task name, arguments and retries).
CELERY_RESULT_EXTENDED = True

# --- Logging -------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"tenant_context": {"()": "django_tenants.log.TenantContextFilter"}},
    "formatters": {
        "tenant": {"format": "%(asctime)s %(levelname)s [%(schema_name)s] %(name)s: %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["tenant_context"],
            "formatter": "tenant",
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        # Every failure and lockout is in the audit log; django-axes' own lines add nothing.
        "axes": {"level": "ERROR"},
    },
}

# --- Catalogue feeds ----------------------------------------------------------------------
# kind → URL (or list of URLs) that catalogue.sync_feeds downloads daily when reachable, e.g.
# {"kev": "https://…/known_exploited_vulnerabilities.json"}; file imports always work offline.
CATALOGUE_FEED_URLS = env.json("CATALOGUE_FEED_URLS", default={})
CATALOGUE_FEED_TIMEOUT = env.float("CATALOGUE_FEED_TIMEOUT", default=60.0)
# Age (days) past which a KEV or MSRC catalogue shows as stale on the dashboard.
CATALOGUE_MAX_AGE_DAYS = {
    "kev": env.int("CATALOGUE_KEV_MAX_AGE_DAYS", default=7),
    "msrc": env.int("CATALOGUE_MSRC_MAX_AGE_DAYS", default=35),
}

# --- Restore tests -------------------------------------------------------------------------
# Days a passing restore test of a critical system stays good (a client's restore-test rule
# starts from this and may change it).
RESTORE_TEST_MAX_AGE_DAYS = env.int("RESTORE_TEST_MAX_AGE_DAYS", default=90)

# --- SLA watch ----------------------------------------------------------------------------
# An open finding is announced (finding.due_soon) this many hours before its SLA due time, and
# again (finding.overdue) once it has passed; the beat sweeps every FINDING_SLA_WATCH_MINUTES.
FINDING_DUE_SOON_HOURS = env.int("FINDING_DUE_SOON_HOURS", default=24)
FINDING_SLA_WATCH_MINUTES = env.int("FINDING_SLA_WATCH_MINUTES", default=15)

# --- Outbox (every outbound call: RMM webhooks) -------------------------------------------
# Calls are written in the transaction and delivered by Celery after it commits; a failed
# attempt is retried after OUTBOX_RETRY_BACKOFF_SECONDS × 2^n seconds (random jitter, at most
# OUTBOX_RETRY_BACKOFF_MAX_SECONDS) until the message's attempts are spent (then it is dead).
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=8)
OUTBOX_RETRY_BACKOFF_SECONDS = env.int("OUTBOX_RETRY_BACKOFF_SECONDS", default=5)
OUTBOX_RETRY_BACKOFF_MAX_SECONDS = env.int("OUTBOX_RETRY_BACKOFF_MAX_SECONDS", default=600)
# A message pending (or overdue for its retry) this long had its task lost: the sweep requeues it.
OUTBOX_STALE_AFTER_SECONDS = env.int("OUTBOX_STALE_AFTER_SECONDS", default=300)
# Celery queue of the delivery task (empty: the default queue).
OUTBOX_QUEUE = env("OUTBOX_QUEUE", default="")

# --- Report delivery (e-mailed links to new reports) -------------------------------------
# The e-mail carries a signed link, never the file; the link works this many days, for the
# recipient signed in with the address it was sent to.
REPORT_DELIVERY_LINK_DAYS = env.int("REPORT_DELIVERY_LINK_DAYS", default=14)
# Attempts to hand one e-mail to the mail server before the delivery is marked failed; a failed
# attempt is retried after REPORT_DELIVERY_RETRY_SECONDS × 2^n seconds.
REPORT_DELIVERY_MAX_ATTEMPTS = env.int("REPORT_DELIVERY_MAX_ATTEMPTS", default=5)
REPORT_DELIVERY_RETRY_SECONDS = env.int("REPORT_DELIVERY_RETRY_SECONDS", default=60)
# Outbound webhooks (webhooks app): attempts per delivery before it is dead, each attempt's
# timeout, how long a rotated secret keeps signing beside the new one, and the replay window a
# receiver allows (documented for receivers; webhooks/verify.py uses it by default).
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
WEBHOOK_TIMEOUT_SECONDS = env.int("WEBHOOK_TIMEOUT_SECONDS", default=10)
WEBHOOK_ROTATION_GRACE_HOURS = env.int("WEBHOOK_ROTATION_GRACE_HOURS", default=24)
WEBHOOK_TOLERANCE_SECONDS = env.int("WEBHOOK_TOLERANCE_SECONDS", default=300)
# Exposure alerts: the same address, source, exposed data and breach within this many days is
# merged into the alert already received (one breach pages once).
EXPOSURE_DEDUP_WINDOW_DAYS = env.int("EXPOSURE_DEDUP_WINDOW_DAYS", default=30)
# Plain http to this machine (127.0.0.1, ::1, localhost) as a webhook URL: development only.
WEBHOOK_ALLOW_LOOPBACK = env.bool("WEBHOOK_ALLOW_LOOPBACK", default=DEBUG)

# --- PatchOps ------------------------------------------------------------------------------
PATCHOPS_DEMO_PASSWORD = env("PATCHOPS_DEMO_PASSWORD", default="patchops-demo-2026")
# Largest body accepted by the discovery push endpoint (checked before parsing; 413 above it).
DISCOVERY_MAX_BYTES = env.int("DISCOVERY_MAX_BYTES", default=10 * 1024 * 1024)
# Resident agents push their inventory within this many minutes after the client's discovery slot
# (each device at its own stable offset), and the agent archive they download is built into
# AGENT_ARCHIVE_DIR (default: a folder in the system's temporary directory).
AGENT_DISCOVERY_JITTER_MINUTES = env.int("AGENT_DISCOVERY_JITTER_MINUTES", default=60)
AGENT_ARCHIVE_DIR = env("AGENT_ARCHIVE_DIR", default="")
# Largest JSON body any other API endpoint accepts (413 JSON above it).
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
# Celery queue of the task that reads uploaded files (empty: the default queue).
UPLOADS_QUEUE = env("UPLOADS_QUEUE", default="")
# Celery queue of the task that renders requested reports (empty: the default queue).
REPORTS_QUEUE = env("REPORTS_QUEUE", default="")
# Largest logo (PNG or JPEG) the MSP or a client may upload for its reports.
REPORT_LOGO_MAX_BYTES = env.int("REPORT_LOGO_MAX_BYTES", default=512 * 1024)
# Largest file an engineer may upload (inventory or catalogue file; the upload pages and API).
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=256 * 1024 * 1024)
# No request body may exceed this, whatever it is for (checked before the body is read); the
# upload endpoints (paths ending in uploads/) take up to UPLOAD_MAX_BYTES.
REQUEST_MAX_BODY_BYTES = max(DISCOVERY_MAX_BYTES, API_MAX_BODY_BYTES, 2621440)
# Uploaded files are written to a temporary file above this size, never held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2621440
