"""Development settings: `make run`."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
LOG_FORMAT = env.str("LOG_FORMAT", default="console")

# Static files straight from the apps and static/; collectstatic is for production.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True

# `make run` serves plain HTTP on localhost: links in emails say so.
ACCOUNT_DEFAULT_HTTP_PROTOCOL = env.str("HTTP_PROTOCOL", default="http")
