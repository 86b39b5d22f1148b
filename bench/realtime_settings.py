"""Settings for bench/realtime.py's server, worker and driver: the development
settings with the channel layer the run measures (BENCH_CHANNEL_LAYER: "core",
channels-redis' RedisChannelLayer, or "pubsub", its RedisPubSubChannelLayer),
whatever base.py configures.

Both get what redis-py 8's new defaults require: a socket timeout above the
core layer's 5 s blocking read (the default, 5 s, ends every connection's
receive, and so its WebSocket, after 5 s of quiet: django/channels_redis#422),
and a pool larger than the default 100 connections, which a thousand sockets
closing at once exhaust (MaxConnectionsError in group_discard).
"""

import os

from conceptspro.settings.local import *  # noqa: F403
from conceptspro.settings.local import REDIS_URL, env

hosts = [
    {
        "address": env.str("CHANNEL_LAYER_URL", default=REDIS_URL),
        "socket_timeout": 10,
        "max_connections": 1000,
    }
]
if os.environ.get("BENCH_CHANNEL_LAYER", "core") == "pubsub":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": hosts, "prefix": "conceptspro:ws"},
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": hosts, "prefix": "conceptspro:ws", "capacity": 1000, "expiry": 60},
        }
    }
