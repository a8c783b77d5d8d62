"""The live stream: one reader of the store, fanned out to every connected client.

:class:`Broadcaster` polls the store once per tick for what was stored since the last tick
(:func:`seasight.api.query.stream_frames`), whatever the number of clients, and hands each
client the messages its caller may see (:func:`seasight.api.query.stream_messages`, through
the policy function; serialised once per caller, not once per client). Each client has a
bounded outbox: a client too slow to keep up loses its oldest *position* updates (a newer one
supersedes them), never events or alerts.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from contextlib import suppress

from starlette.concurrency import run_in_threadpool

from seasight.api import query as q
from seasight.api.query import Caller
from seasight.store.shared import SharedStore

logger = logging.getLogger(__name__)

#: Messages waiting for one client before position updates are dropped.
OUTBOX_LIMIT = 64

_POSITIONS = '{"type":"positions"'


class Subscriber:
    """One connected client: its caller and its outbox."""

    def __init__(self, caller: Caller, limit: int = OUTBOX_LIMIT) -> None:
        self.caller = caller
        self.revoked = asyncio.Event()  # its credentials stopped working: close it
        self.limit = limit
        self.outbox: collections.deque[str] = collections.deque()
        self.ready = asyncio.Event()
        self.dropped = 0

    def push(self, messages: list[str]) -> None:
        self.outbox.extend(messages)
        while len(self.outbox) > self.limit:
            oldest = next((m for m in self.outbox if m.startswith(_POSITIONS)), None)
            if oldest is None:
                break
            self.outbox.remove(oldest)
            self.dropped += 1
        if self.outbox:
            self.ready.set()

    async def next_batch(self) -> list[str]:
        """Wait for messages and take all of them (none once revoked)."""
        await self.ready.wait()
        out = list(self.outbox)
        self.outbox.clear()
        self.ready.clear()
        return out


class Broadcaster:
    """Polls ``shared`` every ``poll_s`` seconds while clients are connected."""

    def __init__(self, shared: SharedStore, poll_s: float,
                 refresh: Callable[[Caller], Caller | None] | None = None) -> None:
        self.shared = shared
        self.poll_s = poll_s
        self.refresh = refresh  # re-checks a client's credentials and policy every tick
        self.clients: set[Subscriber] = set()
        self.marks: q.Watermarks | None = None
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None

    async def subscribe(self, caller: Caller) -> Subscriber:
        if self.marks is None:
            self.marks = await run_in_threadpool(self.shared.read, q.current_watermarks)
        sub = Subscriber(caller)
        self.clients.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.clients.discard(sub)
        if not self.clients:
            self.marks = None  # the next client starts from what is stored then

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="stream broadcaster")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    async def tick(self) -> None:
        """Read what is new once and queue it for every client."""
        marks = self.marks
        if not self.clients or marks is None:
            return
        if self.refresh is not None:
            await run_in_threadpool(self._refresh_clients)
        partner = next((sub.caller for sub in self.clients
                        if not sub.caller.sees_everything and not sub.revoked.is_set()), None)
        frames = await run_in_threadpool(self.shared.read,
                                         lambda s: q.stream_frames(s, marks, partner))
        self.ticks += 1
        if frames.empty:
            return
        by_caller: dict[Caller, list[str]] = {}
        for sub in list(self.clients):
            if sub.revoked.is_set():
                continue
            if sub.caller not in by_caller:
                by_caller[sub.caller] = q.stream_messages(sub.caller, frames)
            sub.push(by_caller[sub.caller])

    def _refresh_clients(self) -> None:
        assert self.refresh is not None
        for sub in list(self.clients):
            fresh = self.refresh(sub.caller)
            if fresh is None:
                sub.revoked.set()
                sub.ready.set()
            else:
                sub.caller = fresh

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                await self.tick()
            except Exception:  # a failed read must not end the stream for good
                logger.exception("stream tick failed")


__all__ = ["OUTBOX_LIMIT", "Broadcaster", "Subscriber"]
