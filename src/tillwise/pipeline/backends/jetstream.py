"""JetStreamBus: the bus on NATS JetStream (scale-out: workers on many hosts).

One stream (``subjects = f"{stream}.>"``, limits retention, server-side dedupe on the
``Nats-Msg-Id`` header within ``duplicate_window``). A topic is published on
``f"{stream}.{topic}"``; each (topic, consumer) is a durable pull consumer filtered on that
subject with explicit ack and the bus's ack wait, so every consumer gets every message (fan-out)
and the workers of one consumer share its messages.

A message targeted at one consumer (``message.consumer``: dead-letter replay) goes to
``f"{stream}.direct.{consumer}.{topic}"``. nats-server 2.9 cannot filter one consumer on two
subjects, so every logical consumer has a second durable on its direct subject and ``fetch``
reads both (the direct one first; it is checked at least once a second while waiting).

Pulls are made with raw ``CONSUMER.MSG.NEXT`` requests: ``no_wait`` to take what is ready, and a
lingering ``batch=1`` request to wait, so no pull request is left behind to capture messages
nobody reads. Acks, naks and terms wait for the server's confirmation.

The connection is made lazily on the running event loop (and made again on a new loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from tillwise.ports.bus import Message, Received

log = logging.getLogger(__name__)

_HDR_MSG_ID = "Nats-Msg-Id"
_HDR_TOPIC = "Tillwise-Topic"
_HDR_CONSUMER = "Tillwise-Consumer"
_WAIT_SLICE = 1.0  # longest lingering pull, so the direct durable is looked at every second
_GRACE = 0.5
_ATTEMPTS_REMEMBERED = (
    100_000  # how long past a pull's expiry we wait for the server's closing status
)


def _token(name: str) -> str:
    """A subject token / durable-name part for any string: safe characters plus a short hash,
    so that names that sanitize alike (``a.b`` and ``a_b``) stay distinct."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64]
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{safe}-{digest}"


class JetStreamBus:
    def __init__(
        self,
        url: str,
        *,
        stream: str = "TILLWISE",
        ack_wait: float,
        max_deliver: int | None = None,
        duplicate_window: float = 120,
        max_age: float | None = 7 * 24 * 3600,
    ) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", stream):
            raise ValueError(f"invalid stream name {stream!r}")
        self.url = url
        self.stream = stream
        self.ack_wait = ack_wait
        self.max_deliver = max_deliver
        self.duplicate_window = duplicate_window
        self.max_age = max_age
        self._nc: Any = None
        # (durable, stream sequence) -> deliveries seen here, for messages not yet settled
        self._attempts: OrderedDict[tuple[str, int], int] = OrderedDict()
        self._js: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connecting: asyncio.Lock | None = None

    # -- names ----------------------------------------------------------------------------

    def topic_subject(self, topic: str) -> str:
        return f"{self.stream}.{topic}"

    def direct_subject(self, topic: str, consumer: str) -> str:
        return f"{self.stream}.direct.{_token(consumer)}.{topic}"

    @staticmethod
    def durable_name(topic: str, consumer: str, *, direct: bool = False) -> str:
        return ("D_" if direct else "C_") + _token(f"{consumer}__{topic}")

    # -- the port -------------------------------------------------------------------------

    async def ensure_consumer(self, topic: str, consumer: str) -> None:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
        from nats.js.errors import BadRequestError

        js = await self._jetstream()
        for direct in (False, True):
            subject = self.direct_subject(topic, consumer) if direct else self.topic_subject(topic)
            config = ConsumerConfig(
                durable_name=self.durable_name(topic, consumer, direct=direct),
                filter_subject=subject,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=self.ack_wait,
                deliver_policy=DeliverPolicy.ALL,
                max_deliver=self.max_deliver if self.max_deliver is not None else -1,
            )
            try:
                await js.add_consumer(self.stream, config=config)
            except BadRequestError as exc:  # exists with another config (e.g. new ack wait)
                log.warning("consumer %s kept its existing config: %s", config.durable_name, exc)

    async def publish(self, message: Message) -> None:
        js = await self._jetstream()
        headers = {_HDR_MSG_ID: message.id, _HDR_TOPIC: message.topic}
        if message.consumer is not None:
            headers[_HDR_CONSUMER] = message.consumer
            subject = self.direct_subject(message.topic, message.consumer)
        else:
            subject = self.topic_subject(message.topic)
        await js.publish(subject, json.dumps(message.payload).encode(), headers=headers)

    async def fetch(
        self,
        topic: str,
        consumer: str,
        *,
        max_messages: int = 16,
        timeout: float = 1.0,  # noqa: ASYNC109  (the Bus port's signature)
    ) -> list[Received]:
        await self._jetstream()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout, 0.0)
        main = self.durable_name(topic, consumer)
        direct = self.durable_name(topic, consumer, direct=True)
        while True:
            msgs = await self._pull(direct, max_messages)
            if len(msgs) < max_messages:
                msgs += await self._pull(main, max_messages - len(msgs))
            remaining = deadline - loop.time()
            if not msgs and remaining > 0:
                msgs = await self._pull(main, 1, wait=min(remaining, _WAIT_SLICE))
                if msgs and max_messages > 1:
                    msgs += await self._pull(main, max_messages - 1)
            if msgs or deadline - loop.time() <= 0:
                return [self._received(m, topic, consumer) for m in msgs]

    async def ack_many(self, received: Sequence[Received]) -> None:
        for one in received:
            await self.ack(one)

    async def ack(self, received: Received) -> None:
        self._forget(received)
        await self._reply(received, b"+ACK")

    async def nack(self, received: Received, *, delay: float = 0.0) -> None:
        payload = b"-NAK"
        if delay > 0:
            payload += b" " + json.dumps({"delay": int(delay * 1_000_000_000)}).encode()
        await self._reply(received, payload)

    async def term(self, received: Received) -> None:
        self._forget(received)
        await self._reply(received, b"+TERM")

    async def pending(self, topic: str, consumer: str) -> int:
        from nats.js.errors import NotFoundError

        js = await self._jetstream()
        total = 0
        for direct in (False, True):
            try:
                info = await js.consumer_info(
                    self.stream, self.durable_name(topic, consumer, direct=direct)
                )
            except NotFoundError:
                continue
            total += int(info.num_pending or 0) + int(info.num_ack_pending or 0)
        return total

    async def close(self) -> None:
        nc, loop = self._nc, self._loop
        self._nc = self._js = self._loop = None
        if nc is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is running and not nc.is_closed:
            await nc.close()

    # -- internals ------------------------------------------------------------------------

    async def _jetstream(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._nc is not None and self._loop is loop and not self._nc.is_closed:
            return self._js
        if self._connecting is None or self._loop is not loop:
            self._connecting = asyncio.Lock()
            self._loop = loop
        async with self._connecting:
            if self._nc is not None and self._loop is loop and not self._nc.is_closed:
                return self._js
            import nats

            # A connection made on an earlier (now closed) loop cannot be used or closed here.
            nc = await nats.connect(self.url, name="tillwise")
            js = nc.jetstream()
            await self._ensure_stream(js)
            self._nc, self._js, self._loop = nc, js, loop
            return js

    async def _ensure_stream(self, js: Any) -> None:
        from nats.js.api import RetentionPolicy, StorageType, StreamConfig
        from nats.js.errors import NotFoundError

        try:
            await js.stream_info(self.stream)
            return
        except NotFoundError:
            pass
        await js.add_stream(
            StreamConfig(
                name=self.stream,
                subjects=[f"{self.stream}.>"],
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                duplicate_window=self.duplicate_window,
                max_age=self.max_age,
            )
        )

    async def _pull(self, durable: str, batch: int, *, wait: float | None = None) -> list[Any]:
        """One pull request: ``wait=None`` takes only what is ready now (``no_wait``); otherwise
        a lingering request that ends at the first message or after ``wait`` seconds."""
        nc = self._nc
        request: dict[str, Any] = {"batch": batch}
        if wait is None:
            request["no_wait"] = True
            local_timeout = 5.0
        else:
            request["expires"] = max(int(wait * 1_000_000_000), 1_000_000)
            local_timeout = wait + _GRACE
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox)
        msgs: list[Any] = []
        try:
            await nc.publish(
                f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{durable}",
                json.dumps(request).encode(),
                reply=inbox,
            )
            loop = asyncio.get_running_loop()
            end = loop.time() + local_timeout
            while len(msgs) < batch:
                try:
                    msg = await sub.next_msg(timeout=max(end - loop.time(), 0.001))
                except TimeoutError:
                    break
                status = msg.headers.get("Status") if msg.headers else None
                if status is None and msg.reply:
                    msgs.append(msg)
                elif status == "100":  # idle heartbeat
                    continue
                else:  # 404 no messages, 408 request expired, 409 consumer gone...
                    if status not in ("404", "408"):
                        log.warning(
                            "pull from %s: %s %s", durable, status, msg.headers.get("Description")
                        )
                    break
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        return msgs

    def _received(self, msg: Any, topic: str, consumer: str) -> Received:
        headers = msg.headers or {}
        message = Message(
            id=headers.get(_HDR_MSG_ID, ""),
            topic=headers.get(_HDR_TOPIC, topic),
            payload=json.loads(msg.data) if msg.data else {},
            consumer=headers.get(_HDR_CONSUMER),
        )
        # nats-server 2.9 can report a redelivery as delivery 1 again (its count is lowered when
        # it believes a delivery reached nobody), so deliveries this process saw count too.
        meta = msg.metadata
        key = (meta.consumer or "", int(meta.sequence.stream))
        attempt = max(int(meta.num_delivered), self._attempts.pop(key, 0) + 1)
        self._attempts[key] = attempt
        while len(self._attempts) > _ATTEMPTS_REMEMBERED:
            self._attempts.popitem(last=False)
        return Received(message=message, consumer=consumer, attempt=attempt, handle=msg)

    def _forget(self, received: Received) -> None:
        meta = received.handle.metadata
        self._attempts.pop((meta.consumer or "", int(meta.sequence.stream)), None)

    async def _reply(self, received: Received, payload: bytes) -> None:
        msg = received.handle
        nc = self._nc if self._nc is not None else msg._client
        # A request (not a plain publish): the server confirms it processed the ack.
        await nc.request(msg.reply, payload, timeout=5.0)
