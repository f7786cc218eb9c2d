"""An in-process publish/subscribe hub for joined-value changes.

Writers call :meth:`LiveHub.publish`, which never blocks and never awaits: each listener has a
bounded :class:`asyncio.Queue`; when it is full the oldest event is dropped and the listener's
``dropped`` counter grows, so a slow client loses old values (the next one supersedes them
anyway) instead of slowing writers. Each event is serialized once, however many listeners get
it (:class:`Delivery`), and :meth:`LiveHub.nudge` puts ``None`` in idle queues so that a
listener waiting on its queue alone also wakes for heartbeats and shutdown. A PostgreSQL
LISTEN/NOTIFY hub for several server processes implements the same methods.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Delivery", "Listener", "LiveEvent", "LiveHub"]


class LiveEvent(Protocol):
    """What the hub fans out: a change of one attribute of one object of one dataset."""

    @property
    def dataset(self) -> str: ...

    @property
    def attribute(self) -> str: ...

    def as_json(self) -> dict[str, Any]:
        """Return the event's wire form."""
        ...


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event as a listener receives it: the event and its JSON text, made once."""

    event: LiveEvent
    data: str

    @property
    def value(self) -> Any:
        """The event's value (as its JSON form has it)."""
        return self.event.as_json().get("value")


@dataclass(slots=True, eq=False)
class Listener:
    """One subscriber: its filters, its bounded queue and how many events it lost."""

    datasets: frozenset[str] | None
    attributes: frozenset[str] | None
    queue: asyncio.Queue[Delivery | None]
    dropped: int = 0
    delivered: int = 0

    def wants(self, event: LiveEvent) -> bool:
        """Return whether the event passes this listener's filters."""
        return (self.datasets is None or event.dataset in self.datasets) and (
            self.attributes is None or event.attribute in self.attributes
        )

    def offer(self, event: Delivery | None) -> None:
        """Enqueue without waiting, dropping the oldest event when full."""
        while True:
            try:
                self.queue.put_nowait(event)
            except asyncio.QueueFull:
                with contextlib.suppress(asyncio.QueueEmpty):
                    self.queue.get_nowait()
                self.dropped += 1
            else:
                self.delivered += 1
                return


class LiveHub:
    """Fan joined-value changes out to listeners (all in one event loop).

    Parameters
    ----------
    queue_size : int
        Events each listener may hold before the oldest are dropped.
    """

    def __init__(self, queue_size: int = 256) -> None:
        self.queue_size = queue_size
        self._listeners: set[Listener] = set()

    @property
    def listener_count(self) -> int:
        """How many listeners are connected."""
        return len(self._listeners)

    @contextmanager
    def listen(
        self,
        datasets: frozenset[str] | None = None,
        attributes: frozenset[str] | None = None,
    ) -> Iterator[Listener]:
        """Register a listener for the duration of the ``with`` block."""
        listener = Listener(datasets, attributes, asyncio.Queue(self.queue_size))
        self._listeners.add(listener)
        try:
            yield listener
        finally:
            self._listeners.discard(listener)

    def publish(self, events: Sequence[LiveEvent]) -> None:
        """Offer each event to every interested listener; never blocks."""
        for event in events:
            delivery: Delivery | None = None
            for listener in list(self._listeners):
                if listener.wants(event):
                    if delivery is None:
                        delivery = Delivery(event, json.dumps(event.as_json(), ensure_ascii=False))
                    listener.offer(delivery)

    def nudge(self) -> None:
        """Wake every listener with an empty queue (it reads ``None``): heartbeat or stop."""
        for listener in list(self._listeners):
            if listener.queue.empty():
                listener.queue.put_nowait(None)
