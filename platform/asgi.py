"""ASGI entry point (uvicorn): Django for HTTP; for WebSockets, /ws/ on each
institution's host (tenant_apps/notifications/consumers.py)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conceptspro.settings.production")
# Sets Django up: the imports below load models.
django_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import WebsocketDenier  # noqa: E402
from django.urls import path, re_path  # noqa: E402

from shared_apps.institutions.websocket import (  # noqa: E402
    InstitutionWebSocketMiddleware,
    SameOriginOnly,
)
from tenant_apps.notifications.consumers import RealtimeConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": SameOriginOnly(
            InstitutionWebSocketMiddleware(
                URLRouter(
                    [
                        path("ws/", RealtimeConsumer.as_asgi()),
                        re_path(r"", WebsocketDenier.as_asgi()),  # any other path: refused
                    ]
                )
            )
        ),
    }
)
