"""Record what the reader and the builders report in the order an import always recorded it.

The report lists rejections and warnings as the importing process met them: a rejection of
the reader when the object was read, the swapped axis order of an srsName when its first
object was read, and what became of a batch of objects (build errors, findings) when the
batch came back from the pool — a batch of :data:`~twin.pipeline.parallel.BATCH_OBJECTS`
objects of one srsName comes back once the reader has filled as many batches again as are
in flight. Where the work runs (members read in the workers or here, which batches) changes
when things are known, not where they stand in the report: :class:`ReportOrder` is told of
every object in input order and places its entries as that schedule does. It also rejects an
object whose id was met before (ids are unique within a dataset) when it is read, as the
reader's rejections; its feature, built all the same, is not kept.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from twin.model import Rejection
from twin.pipeline.parallel import BATCH_OBJECTS, Entry
from twin.pipeline.report import ImportReport
from twin.pipeline.seen_ids import SeenIds

__all__ = ["ReportOrder"]


@dataclass(slots=True)
class ReportOrder:
    """The batches of the schedule not yet reported, and the warnings of srsNames decided.

    ``in_flight`` is how many batches the pool holds (1 without a pool); ``seen`` the ids met
    so far; ``held`` maps an srsName decided to the warnings of its decision, until its first
    object is recorded.
    """

    report: ImportReport
    in_flight: int
    seen: SeenIds
    held: dict[str, list[str]] = field(default_factory=dict)
    batch: list[Entry] = field(default_factory=list)
    srs: str | None = None
    waiting: deque[list[Entry]] = field(default_factory=deque)

    def record(self, entry: Rejection | Entry) -> bool:
        """Record the next object read (what became of it) or rejection of the reader; return
        False for an object whose id was met before (its feature must go)."""
        self.report.objects_read += 1
        if isinstance(entry, Rejection):
            self.report.reject(entry)
            return True
        if (first := self.seen.first_met(entry.id, entry.source)) is not None:
            self.report.reject(Rejection(entry.id, entry.type, entry.source, _repeated_id(first)))
            return False
        srs = entry.srs
        if srs is not None:
            self.report.warnings += self.held.pop(srs, [])
        changed = srs is not None and self.srs is not None and srs != self.srs
        if self.batch and (changed or len(self.batch) >= BATCH_OBJECTS):
            self._close()
        self.batch.append(entry)
        self.srs = srs or self.srs
        return True

    def finish(self) -> None:
        """Record what is left, once the last object is read."""
        if self.batch:
            self._close()
        while self.waiting:
            self._report(self.waiting.popleft())

    def _close(self) -> None:
        self.waiting.append(self.batch)
        self.batch, self.srs = [], None
        if len(self.waiting) >= self.in_flight:
            self._report(self.waiting.popleft())

    def _report(self, batch: list[Entry]) -> None:
        for entry in batch:
            self.report.rejections += entry.rejections
            self.report.warnings += entry.warnings


def _repeated_id(first: str) -> str:
    return (
        f"the object at {first} has the same id; ids must be unique within a dataset, so only "
        "that first one is imported (rename one, or import the files as separate datasets)"
    )
