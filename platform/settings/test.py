"""Test settings: real PostgreSQL and Redis, fast hashing, small pool."""

from .base import *  # noqa: F403
from .base import DATA_DIR

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
PROVISIONING_POOL_SIZE = 2
MEDIA_ROOT = DATA_DIR / "test-media"
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405

# Static files straight from the apps and static/; collectstatic is for production.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http"
# Tests that are not about rate limits should never meet one; the rate-limit
# tests set their own.
API_RATE_PER_USER = "100000/minute"
API_RATE_PER_IP = "100000/minute"
