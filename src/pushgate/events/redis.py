"""The Redis bus: one pub/sub connection per process, fan-out by topic.

Every process subscribes to the single channel ``pushgate``; the message is
the topic. Redis knows nothing of database transactions, so publishing
happens right after the commit (the base class keeps the topics until then):
a rolled-back change is never announced, and a waiter that wakes finds the
change committed.

The subscribing connection carries the client name ``pushgate-events-...``
(see :attr:`RedisBus.client_name`), so an operator can tell it apart in
``CLIENT LIST``. It does no automatic retries of its own: the reconnect loop
of :class:`ListeningBus` notices every loss, and after it resubscribes it
wakes every waiter to re-read its state.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Callable
from urllib.parse import urlsplit

import redis.asyncio as redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from pushgate.events._listener import ListeningBus
from pushgate.events.bus import check_topic

logger = logging.getLogger("pushgate")

CHANNEL = "pushgate"


class RedisBus(ListeningBus):
    name = "redis"

    def __init__(self, url: str, channel: str = CHANNEL) -> None:
        super().__init__()
        self._url = url
        self.channel = channel
        #: Unique to this bus, so its connection can be found in CLIENT LIST.
        self.client_name = f"pushgate-events-{os.getpid()}-{secrets.token_hex(4)}"
        parsed = urlsplit(url)
        if parsed.scheme == "unix":
            self._server = parsed.path
        else:
            host = f"{parsed.hostname or 'localhost'}:{parsed.port or 6379}"
            self._server = host + (parsed.path or "/0")
        # Publishing retries a dropped connection a few times on its own.
        self._publisher = redis.Redis.from_url(
            url,
            client_name=f"pushgate-publish-{os.getpid()}",
            socket_connect_timeout=self.connect_timeout,
            socket_timeout=self.connect_timeout,
            retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), 3),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )

    @property
    def server(self) -> str:
        return f"Redis {self._server}"

    async def stop(self) -> None:
        await super().stop()
        await self._publisher.aclose()

    async def publish(self, topic: str) -> None:
        check_topic(topic)
        try:
            await self._publisher.publish(self.channel, topic)
        except RedisError as error:
            # The change is committed already; failing the caller's request
            # would not undo it. Waiters elsewhere re-read their state when
            # their own connection recovers or their stream reconnects.
            logger.warning(
                "Could not announce a change on %s (%s)",
                self.server,
                type(error).__name__,
            )

    async def _listen(self, listening: Callable[[], None]) -> None:
        client = redis.Redis.from_url(
            self._url,
            client_name=self.client_name,
            socket_connect_timeout=self.connect_timeout,
            socket_keepalive=True,
            # No silent reconnects: the loop must see every loss to resync.
            retry=Retry(NoBackoff(), 0),
        )
        pubsub = client.pubsub()
        try:
            async with asyncio.timeout(self.connect_timeout):
                await pubsub.subscribe(self.channel)
                while True:
                    message = await pubsub.get_message(timeout=self.connect_timeout)
                    if message is not None and message["type"] == "subscribe":
                        break
            listening()
            await self._receive(pubsub)
        finally:
            await pubsub.aclose()
            await client.aclose()

    async def _receive(self, pubsub: PubSub) -> None:
        deliver = self.hub.deliver
        probing = False
        while True:
            timeout = self.probe_timeout if probing else self.probe_interval
            message = await pubsub.get_message(timeout=timeout)
            if message is None:
                if probing:
                    raise TimeoutError(
                        f"no answer to a ping within {self.probe_timeout:g} s"
                    )
                # A quiet connection may be a dead one the OS has not noticed.
                await pubsub.ping()
                probing = True
                continue
            probing = False
            if message["type"] == "message":
                deliver(_text(message["data"]))


def _text(data: bytes | str) -> str:
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return data
