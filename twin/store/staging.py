"""Staging folders of imports, and who owns them: a lock file held for as long as one writes.

An import writes its tileset into ``tilesets/.versions/<v>/`` and its catalog rows under a
generation of its own (:mod:`twin.store.generations`). A killed import (SIGKILL, power loss)
leaves both behind; the next store open cleans them up. What must not be cleaned up is the
folder and generation of an import that is still running, in this process or another.

The rule is a lock, not an age or a pid: ``.versions/<v>.lock`` is created and ``flock``-ed
(exclusive) *before* ``<v>`` is created, and held until the import has published or failed.
The kernel releases an ``flock`` when its holder dies, however it dies, so a cleaner that can
take the lock (non-blocking) knows nobody writes there any more; one that cannot leaves the
folder alone. A pid could be reused and an age rule would either wait long or kill a slow
import; ``flock`` is exact on a local file system (the data directory is one: SQLite's WAL
needs it too). ``flock`` locks belong to an open file, so another open of the same file in the
same process is refused too: a store cleans up around its own import as around anyone's.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["StagingLocks", "remove_unowned_folders", "served_folders", "swap_link", "unowned"]

log = logging.getLogger(__name__)


class StagingLocks:
    """The lock files this process holds, one per staging folder it writes.

    Parameters
    ----------
    versions : Path
        The folder holding the staging folders (``tilesets/.versions``).
    """

    def __init__(self, versions: Path) -> None:
        self._versions = versions
        self._held: dict[str, int] = {}

    def hold(self, name: str) -> None:
        """Take the lock of staging folder ``name`` (before the folder exists); no-op if held."""
        if name in self._held:
            return
        path = self._versions / f"{name}.lock"
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if _same_file(fd, path):
                    break
            except BaseException:
                os.close(fd)
                raise
            # a cleaner or releaser unlinked the file between our open and our flock: the lock
            # we hold is on a file nobody else can find; take the one at the path instead
            os.close(fd)
        self._held[name] = fd

    def release(self, name: str) -> None:
        """Release (and remove) the lock of staging folder ``name`` if this process holds it."""
        fd = self._held.pop(name, None)
        if fd is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._versions / f"{name}.lock")
            os.close(fd)

    def release_all(self) -> None:
        """Release every lock this process holds (the store is closing)."""
        for name in list(self._held):
            self.release(name)


@contextlib.contextmanager
def unowned(versions: Path, name: str) -> Iterator[bool]:
    """Tell whether nobody writes staging folder ``name``, holding its lock while the caller
    cleans up (so that no import can take it meanwhile), then remove the lock file."""
    try:
        fd = os.open(versions / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
        with contextlib.suppress(FileNotFoundError):
            os.unlink(versions / f"{name}.lock")
    finally:
        os.close(fd)


def swap_link(tilesets: Path, dataset: str, staging: Path) -> Path | None:
    """Point ``tilesets/<dataset>`` at ``staging`` (atomic ``os.replace`` of a symlink);
    return the folder it pointed at."""
    link = tilesets / dataset
    previous = link.resolve() if link.is_symlink() else None
    tmp_link = tilesets / f".{dataset}.{uuid.uuid4().hex[:8]}"
    os.symlink(os.path.relpath(staging, tilesets), tmp_link)
    os.replace(tmp_link, link)
    log.info("published tileset %s -> %s", dataset, staging.name)
    return previous


def _same_file(fd: int, path: Path) -> bool:
    """Whether open file ``fd`` is still the file at ``path``."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def remove_unowned_folders(tilesets: Path) -> None:
    """Delete the folders of ``tilesets/.versions`` that no link points at and no import
    writes (a killed import's), and lock files nobody holds (such as a killed import's
    dataset lock)."""
    versions = tilesets / ".versions"
    for path in sorted(versions.iterdir()):
        if path.suffix == ".lock":
            if not (versions / path.stem).exists():
                with unowned(versions, path.stem):
                    pass  # removed if free
            continue
        if not path.is_dir():
            continue
        with unowned(versions, path.name) as free:
            if free and path not in served_folders(tilesets):  # under the lock: swaps come first
                log.info("deleting staging folder %s, left by an import", path.name)
                shutil.rmtree(path, ignore_errors=True)


def served_folders(tilesets: Path) -> set[Path]:
    """Return the folders the links in ``tilesets`` point at (resolved)."""
    return {link.resolve() for link in tilesets.iterdir() if link.is_symlink()}
