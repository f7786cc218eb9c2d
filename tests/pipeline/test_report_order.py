"""ReportOrder places rejections and warnings as the import's schedule always did.

The reference is that schedule run for real: the reader's rejections recorded as objects are
pulled, batches made by ``_batches`` and handed back by ``map_ordered`` with ``in_flight``
batches held, a batch's entries recorded when it comes back.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from hypothesis import given, settings
from hypothesis import strategies as st

from twin.model import Rejection, SourceLocation
from twin.pipeline.parallel import BATCH_OBJECTS, Entry, _batches, map_ordered
from twin.pipeline.report import ImportReport
from twin.pipeline.report_order import ReportOrder
from twin.pipeline.seen_ids import SeenIds

_SRS = {name: object() for name in ("A", "B")}  # one reprojector per srsName, as the import's


def _rejection(n: int) -> Rejection:
    return Rejection(f"r{n}", "Building", SourceLocation("city.gml", n), "unreadable")


_ITEMS = st.lists(
    st.one_of(
        st.integers(0, 10**6).map(_rejection),
        st.tuples(
            st.sampled_from(["A", "B", None]),
            st.booleans(),
            st.integers(0, 2),
        ),
    ),
    max_size=3 * BATCH_OBJECTS + 40,
)


def _entries(items: list[Rejection | tuple[str | None, bool, int]]) -> list[Rejection | Entry]:
    out: list[Rejection | Entry] = []
    for k, item in enumerate(items):
        if isinstance(item, Rejection):
            out.append(item)
            continue
        srs, fails, warnings = item
        rejected = (_rejection(-k),) if fails else ()
        noted = tuple(f"o{k} w{w}" for w in range(warnings))
        out.append(Entry(srs, rejected, noted, f"o{k}", "Building", SourceLocation("c.gml", k)))
    return out


def _scheduled(entries: list[Rejection | Entry], in_flight: int) -> ImportReport:
    """Run the old schedule: ``_usable_objects`` → ``_batches`` → ``map_ordered``."""
    report = ImportReport("city", [])

    def usable() -> Iterator[tuple[Entry, object | None]]:
        for entry in entries:
            report.objects_read += 1
            if isinstance(entry, Rejection):
                report.reject(entry)
                continue
            yield entry, None if entry.srs is None else _SRS[entry.srs]

    with ThreadPoolExecutor(1) as pool:
        batches = _batches(usable(), BATCH_OBJECTS)  # type: ignore[arg-type]
        for batch, _ in map_ordered(pool, lambda b: b, batches, in_flight):
            for entry in batch[0]:
                report.rejections += entry.rejections
                report.warnings += entry.warnings
    return report


@settings(max_examples=60, deadline=None)
@given(_ITEMS, st.sampled_from([1, 2, 4]))
def test_entries_land_where_the_schedule_put_them(
    items: list[Rejection | tuple[str | None, bool, int]], in_flight: int
) -> None:
    entries = _entries(items)
    expected = _scheduled(entries, in_flight)
    report = ImportReport("city", [])
    with SeenIds() as seen:
        order = ReportOrder(report, in_flight, seen)
        for entry in entries:
            order.record(entry)
        order.finish()
    assert report.rejections == expected.rejections
    assert report.warnings == expected.warnings
    assert report.objects_read == expected.objects_read == len(entries)
