"""A consumer-less channel of the real channel layer, in some groups, for tests
that check what is sent to a user's or a course's WebSocket group.

channels-redis' pub/sub layer (base.py's) keeps a channel, its subscriptions
and its queue on the event loop that made it, and drops the channel when a
receive on it is cancelled (a timeout included). async_to_sync runs each call
on a loop of its own, so the listener has one event loop, in a thread, for its
whole life, and one receive on it that is never cancelled, feeding a queue
the test reads with a timeout.
"""

import asyncio
import queue
import threading

from channels.layers import get_channel_layer


class GroupListener:
    def __init__(self, *groups: str):
        self.layer = get_channel_layer()
        self.groups = groups
        self.received: queue.Queue = queue.Queue()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.channel = self._run(self.layer.new_channel())
        for group in groups:
            self._run(self.layer.group_add(group, self.channel))
        self.reader = asyncio.run_coroutine_threadsafe(self._read(), self.loop)

    def _run(self, coroutine, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _read(self) -> None:
        while True:
            self.received.put(await self.layer.receive(self.channel))

    def receive(self, timeout: float = 5) -> dict:
        """The next message sent to the channel; TimeoutError if none comes in time."""
        try:
            return self.received.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError from None

    def close(self) -> None:
        self.reader.cancel()
        for group in self.groups:
            self._run(self.layer.group_discard(group, self.channel))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()  # channels-redis flushes the loop's layer (its connections) first
