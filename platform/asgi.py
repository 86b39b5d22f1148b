"""ASGI entry point (uvicorn). WebSockets join here with Channels in a later issue."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conceptspro.settings.production")
application = get_asgi_application()
