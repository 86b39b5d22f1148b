"""Settings shared by every environment. Everything that differs between
deployments comes from environment variables (see README, "Configuration")."""

from pathlib import Path

import environ
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parents[2]
DATA_DIR = Path(environ.Env().str("DATA_DIR", default=str(BASE_DIR / ".data")))

env = environ.Env()

SECRET_KEY = env.str("SECRET_KEY", default="insecure-development-key-never-used-in-production")
DEBUG = env.bool("DEBUG", default=False)

# Institutions live on <slug>.<BASE_DOMAIN>; the bare domain is the public site.
BASE_DOMAIN = env.str("BASE_DOMAIN", default="localhost")
ALLOWED_HOSTS = [BASE_DOMAIN, f".{BASE_DOMAIN}", *env.list("EXTRA_ALLOWED_HOSTS", default=[])]

# --- Database: PostgreSQL only; tenancy is one schema per institution. ---
DATABASES = {"default": env.db_url("DATABASE_URL")}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
# 0: a connection per request. Under ASGI (uvicorn serves the app) Django's
# persistent connections are kept per executor thread and never reused
# (Django ticket #33497): the grading load bench ran PostgreSQL out of
# connections ("too many clients") with 60.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Per-session server settings (PostgreSQL 14+). The server must notice a client
# that vanished, mid-statement or on a dead network path, so that its session
# and its advisory locks (held while provisioning) go away within a minute.
DATABASES["default"].setdefault("OPTIONS", {})["options"] = env.str(
    "DATABASE_SESSION_OPTIONS",
    default="-c client_connection_check_interval=5000 -c tcp_keepalives_idle=30 "
    "-c tcp_keepalives_interval=10 -c tcp_keepalives_count=3",
)
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Identity lives in every schema: an institution's users, their email addresses,
# MFA authenticators, identity providers and audit trail in its own schema; the
# public schema's copies serve the operator's staff (docs/decisions/0003, 0004).
AUTH_APPS = [
    "tenant_apps.accounts",
    "tenant_apps.audit",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.socialaccount.providers.saml",
]

# The accounts app is in both lists: each institution's users live in its own
# schema, and the public schema's copy of the table holds the operator's staff.
SHARED_APPS = [
    "provisioning",  # before django_tenants: its migrate commands also migrate pool schemas
    "django_tenants",
    "shared_apps.plans",
    "shared_apps.institutions",
    "shared_apps.subscriptions",
    "shared_apps.console",
    "shared_apps.signup",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    *AUTH_APPS,
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_structlog",
    "channels",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    *AUTH_APPS,
    "tenant_apps.idempotency",
    "tenant_apps.courses",
    "tenant_apps.content",
    "tenant_apps.files",
    "tenant_apps.announcements",
    "tenant_apps.grading",
    "tenant_apps.assignments",
    "tenant_apps.quizzes",
    # Communication and time (issue 7).
    "tenant_apps.jobs",
    "tenant_apps.activity",
    "tenant_apps.notifications",
    "tenant_apps.discussions",
    "tenant_apps.messaging",
    "tenant_apps.calendar",
    "tenant_apps.analytics",
    "tenant_apps.privacy",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "institutions.Institution"
# Set search_path once per connection and schema, not before every query:
# django-tenants forgets it on close, rollback and any schema change, and the
# provisioning code that sets its own path resets the marker
# (provisioning/schemas.py). Half of every request's round trips otherwise.
TENANT_LIMIT_SET_CALLS = True
TENANT_DOMAIN_MODEL = "institutions.Domain"
ROOT_URLCONF = "conceptspro.urls_tenant"
PUBLIC_SCHEMA_URLCONF = "conceptspro.urls_public"
AUTH_USER_MODEL = "accounts.User"

MIDDLEWARE = [
    "django_structlog.middlewares.RequestMiddleware",
    "shared_apps.institutions.routing.InstitutionRoutingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "tenant_apps.accounts.middleware.MfaRequiredMiddleware",
]

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
                "tenant_apps.accounts.context_processors.security_policy",
                "shared_apps.institutions.context_processors.institution_notice",
            ]
        },
    }
]

WSGI_APPLICATION = "conceptspro.wsgi.application"
ASGI_APPLICATION = "conceptspro.asgi.application"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media")))
MEDIA_URL = "/media/"

# --- Redis: cache (tenant-aware keys), domain routing cache, Celery broker. ---
REDIS_URL = env.str("REDIS_URL")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "TIMEOUT": 300,
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.db"  # one session table per schema

# --- WebSockets (/ws/): Django Channels; every server process and worker shares
# one Redis channel layer. Group names carry the institution's schema, so no two
# institutions ever share a group (tenant_apps/notifications/realtime.py).
# Redis pub/sub: a group send is one PUBLISH, about 4x faster than the list-based
# core layer for a 500-student release (docs/performance.md). Events are not
# queued for a socket that is away: the notification list is what persists.
# redis-py 8's defaults need raising: its 5 s socket timeout would end an idle
# socket's read (django/channels_redis#422), and its pool of 100 connections is
# too small for a thousand sockets closing at once.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            "hosts": [
                {
                    "address": env.str("CHANNEL_LAYER_URL", default=REDIS_URL),
                    "socket_timeout": 10,
                    "max_connections": env.int("CHANNEL_LAYER_MAX_CONNECTIONS", default=1000),
                }
            ],
            "prefix": "conceptspro:ws",
        },
    }
}

# --- File storage: per-institution key prefix; local disk unless S3 is configured. ---
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default=None)
    AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default=None)
    AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default=None)
    AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default=None)
    AWS_DEFAULT_ACL = None
    AWS_QUERYSTRING_AUTH = True
    AWS_QUERYSTRING_EXPIRE = env.int("FILE_URL_SECONDS", default=300)
    DEFAULT_FILE_STORAGE_BACKEND = "conceptspro.storage.TenantS3Storage"
else:
    DEFAULT_FILE_STORAGE_BACKEND = "conceptspro.storage.TenantFileSystemStorage"
# Uploads: the largest single file, and how long a signed download URL lives.
FILE_UPLOAD_MAX_BYTES = env.int("FILE_UPLOAD_MAX_BYTES", default=100 * 1024 * 1024)
FILE_URL_SECONDS = env.int("FILE_URL_SECONDS", default=300)
STORAGES = {
    "default": {"BACKEND": DEFAULT_FILE_STORAGE_BACKEND},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Celery (tenant-schemas-celery: a task runs in the schema it was sent from). ---
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 3600
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "provisioning-pool-top-up": {
        "task": "provisioning.tasks.pool_top_up",
        "schedule": env.float("POOL_TOP_UP_SECONDS", default=30.0),
    },
    "provisioning-resume-stalled": {
        "task": "provisioning.tasks.resume_stalled_provisioning",
        "schedule": 60.0,
    },
    "files-expired-purge": {
        "task": "shared_apps.institutions.tasks.for_each_institution",
        "args": ["tenant_apps.files.tasks.files_expired_purge"],
        "schedule": 3600.0,
    },
    # Plan limits are read from counters; the nightly recount corrects drift.
    "plans-usage-measure-all": {
        "task": "shared_apps.plans.tasks.usage_measure_all",
        "schedule": crontab(hour=2, minute=30),
    },
    # Ended local trials become past due; abandoned paid sign-ups free their address.
    "subscriptions-housekeeping": {
        "task": "shared_apps.subscriptions.tasks.subscriptions_housekeeping",
        "schedule": 3600.0,
    },
    # Quiz attempts past their deadline whose own close task was not queued.
    "quiz-attempts-overdue-close": {
        "task": "shared_apps.institutions.tasks.for_each_institution",
        "args": ["tenant_apps.quizzes.tasks.attempts_overdue_close"],
        "schedule": 60.0,
    },
    # Scheduled jobs (tenant_apps.jobs): each runs once per institution and
    # period whatever beat or retries do, so a second beat process is harmless.
    # Assignment reminders a day and an hour before the due time.
    "assignment-reminders": {
        "task": "shared_apps.institutions.tasks.for_each_institution",
        "args": ["tenant_apps.jobs.tasks.assignment_reminders_send"],
        "schedule": 300.0,
    },
    # The weekly digest email: hourly, it sends once it is Monday 07:00 in
    # each institution's own time zone (tenant_apps/jobs/digest.py).
    "weekly-digest": {
        "task": "shared_apps.institutions.tasks.for_each_institution",
        "args": ["tenant_apps.jobs.tasks.weekly_digest_queue"],
        "schedule": crontab(minute=0),
    },
    # Expired sessions (API tokens), confirmation keys, idempotency keys.
    "expired-tokens-purge": {
        "task": "shared_apps.institutions.tasks.for_each_institution",
        "args": ["tenant_apps.jobs.tasks.expired_tokens_purge"],
        "schedule": crontab(hour=3, minute=15),
    },
    # Activity older than each institution's data policy keeps.
    "activity-log-purge": {
        "task": "shared_apps.institutions.tasks.for_each_institution",
        "args": ["tenant_apps.jobs.tasks.activity_log_purge"],
        "schedule": crontab(hour=3, minute=45),
    },
    # Announcements whose publication time has come: their notification.
    "announcements-due-notify": {
        "task": "shared_apps.institutions.tasks.for_each_institution",
        "args": ["tenant_apps.announcements.tasks.announcements_due_notify"],
        "schedule": 60.0,
    },
    # Data exports: expired zips deleted, dead builds failed, lost ones re-sent.
    "data-exports-housekeeping": {
        "task": "shared_apps.institutions.tasks.for_each_institution",
        "args": ["tenant_apps.privacy.tasks.data_exports_housekeeping"],
        "schedule": 3600.0,
    },
}

# --- Billing (Stripe). No secret key: billing is off and the operator assigns plans. ---
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
# Another Stripe API address (the tests' stub on loopback); empty: Stripe's own.
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
BILLING_ENABLED = bool(STRIPE_SECRET_KEY)
# A past-due subscription keeps the institution writable this long (with a
# banner), then it turns read-only until paid.
BILLING_GRACE_DAYS = env.int("BILLING_GRACE_DAYS", default=7)

# --- Provisioning ---
# How many ready, unassigned schemas the warm pool keeps.
PROVISIONING_POOL_SIZE = env.int("PROVISIONING_POOL_SIZE", default=3)

REST_FRAMEWORK = {
    # Bearer first: its WWW-Authenticate challenge is the one a 401 carries.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenant_apps.accounts.authentication.AccessTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "conceptspro.api.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "conceptspro.api.PagePagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": [
        "conceptspro.api.UserRateThrottle",
        "conceptspro.api.IPRateThrottle",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "conceptspro.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
    # The client address a per-IP limit counts: REMOTE_ADDR, or the one the
    # trusted proxies forwarded (never a client-supplied X-Forwarded-For).
    "NUM_PROXIES": env.int("TRUSTED_PROXY_COUNT", default=0),
}
# Per signed-in user and per client address, in each institution's own cache
# keys; over the limit is a 429 with Retry-After. DRF's rate syntax: "600/minute".
API_RATE_PER_USER = env.str("API_RATE_PER_USER", default="600/minute")
API_RATE_PER_IP = env.str("API_RATE_PER_IP", default="1200/minute")
# A retried POST with the same Idempotency-Key answers the first result for this long.
IDEMPOTENCY_KEY_HOURS = 24

SPECTACULAR_SETTINGS = {
    "TITLE": "ConceptsPro API",
    "DESCRIPTION": (
        "The REST API of one institution, served on its own subdomain. Errors are "
        '`{"error": {"code", "message", "fields"}}`; lists take `page` and `per_page` '
        "(at most 100) and answer RFC 8288 `Link` headers; POSTs that create things "
        "accept an `Idempotency-Key` header."
    ),
    "VERSION": "1",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets that several apps share (or that share a field name) get one
    # schema name each.
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "tenant_apps.accounts.models.Role",
        "InvitationStatusEnum": "tenant_apps.accounts.invitations.InvitationStatus",
        "InvitationImportRowStatusEnum": "tenant_apps.accounts.invitations.ImportRowStatus",
        "CourseStatusEnum": "tenant_apps.courses.models.CourseStatus",
        "CourseRoleEnum": "tenant_apps.courses.models.CourseRole",
        "EnrollmentStatusEnum": "tenant_apps.courses.models.EnrollmentStatus",
        "EnrollmentTypeEnum": "tenant_apps.courses.models.EnrollmentType",
        "EnrollmentImportStatusEnum": "tenant_apps.courses.models.ImportStatus",
        "QuizAttemptStatusEnum": "tenant_apps.quizzes.models.AttemptStatus",
        "QuizQuestionTypeEnum": "tenant_apps.quizzes.models.QuestionType",
        # Its keys: the kinds of identity provider ("type" collides with quizzes' otherwise).
        "IdentityProviderTypeEnum": "tenant_apps.accounts.sso.IDP_KINDS",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "conceptspro.api.schema_add_error_responses",
    ],
}

# --- Identity: django-allauth (browser), its JWT token machinery (API), MFA, SSO. ---
AUTHENTICATION_BACKENDS = ["tenant_apps.accounts.backends.AuthenticationBackend"]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_ADAPTER = "tenant_apps.accounts.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "tenant_apps.accounts.adapters.SocialAccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_SIGNUP_FORM_CLASS = "tenant_apps.accounts.forms.SignupNamesForm"
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")
ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED = False
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
# Keys stored in the institution's own schema: allauth's default (HMAC) key signs
# only the EmailAddress id, which every schema reuses, so alpha's key verified beta's row.
ACCOUNT_EMAIL_CONFIRMATION_HMAC = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_DEFAULT_HTTP_PROTOCOL = env.str("HTTP_PROTOCOL", default="https")
# The design document's brute-force rule: 5 failures per 15 minutes, per account
# and per IP address, then a lockout until the window passes.
ACCOUNT_RATE_LIMITS = {"login_failed": env.str("LOGIN_FAILED_RATE", default="5/15m/ip,5/15m/key")}
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
# Behind a load balancer, the client's address (lockouts, audit trail) is the
# one the trusted proxies forwarded, not theirs.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
ALLAUTH_TRUSTED_CLIENT_IP_HEADER = env.str("TRUSTED_CLIENT_IP_HEADER", default=None)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env.str("MFA_TOTP_ISSUER", default="ConceptsPro")
# Identity providers are configured per institution, as SocialApp rows in the
# institution's own schema; none are configured in settings.
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_STORE_TOKENS = False
# API tokens: allauth headless' JWT strategy. Access tokens are short-lived and
# bound to a server-side session in the institution's schema, so logout revokes
# them at once and another institution's schema never knows them.
HEADLESS_JWT_ALGORITHM = "HS256"
HEADLESS_JWT_PRIVATE_KEY = env.str("JWT_SIGNING_KEY", default="")  # HS256: SECRET_KEY if empty
HEADLESS_JWT_ACCESS_TOKEN_EXPIRES_IN = env.int("ACCESS_TOKEN_SECONDS", default=15 * 60)
HEADLESS_JWT_REFRESH_TOKEN_EXPIRES_IN = env.int("REFRESH_TOKEN_SECONDS", default=14 * 24 * 3600)
HEADLESS_JWT_STATEFUL_VALIDATION_ENABLED = True
HEADLESS_JWT_ROTATE_REFRESH_TOKEN = True
SESSION_COOKIE_AGE = HEADLESS_JWT_REFRESH_TOKEN_EXPIRES_IN

# --- Email: the console unless EMAIL_BACKEND names another, such as a provider
# through django-anymail (e.g. anymail.backends.postmark.EmailBackend), whose
# keys come as one JSON object in ANYMAIL_SETTINGS
# (e.g. '{"POSTMARK_SERVER_TOKEN": "..."}'). Notifications are sent by a
# Celery task (tenant_apps.notifications.tasks), never in a request.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default=f"ConceptsPro <no-reply@{BASE_DOMAIN}>")
ANYMAIL = env.json("ANYMAIL_SETTINGS", default={})

# --- Logging: JSON lines with request id and tenant schema (structlog). ---
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="json")  # "json" or "console"
from conceptspro.logconfig import configure_logging  # noqa: E402

LOGGING = configure_logging(level=LOG_LEVEL, fmt=LOG_FORMAT)
DJANGO_STRUCTLOG_CELERY_ENABLED = True
# Behind a load balancer that sets X-Request-ID, use its id so logs correlate.
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = env.bool("TRUST_UPSTREAM_REQUEST_ID", default=False)
