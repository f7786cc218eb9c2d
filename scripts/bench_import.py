#!/usr/bin/env python3
"""Benchmark ``twin import`` on synthetic cities, as ratios to a bare lxml iterparse.

For each size: write a synthetic CityGML 2.0 city (``scripts/synth_city.py``), time a bare
``lxml.etree.iterparse`` over it (every element, each top-level member cleared once read: the
floor any streaming reader pays), then run ``twin import`` in a child process and report

- buildings/s and MB/s of input (import wall time),
- the ratio import time / iterparse time (measured in the same run, so machine load cancels),
  and the same ratio of CPU time (user + sys of the import and its worker processes over the
  iterparse's CPU time: what a shared or loaded machine does not blur),
- peak RSS of the import: of the importing process (``wait4`` rusage of the child: the
  largest process of its tree, which is the importer), and of the whole tree, importer plus
  worker processes, as the peak of their summed ``VmRSS`` sampled from ``/proc`` every 0.2 s
  (forked workers share pages with the importer, so the sum overstates a little), each with
  its ratio to the first size's (flat in N: near 1),
- tileset bytes per building (every file of the published tileset: content, tileset.json and
  external tileset files; not the import report).

Usage::

    scripts/bench_import.py                    # 10k and 100k buildings
    scripts/bench_import.py --sizes 2000 10000 --workdir /tmp/bench --keep
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import synth_city  # beside this script, on sys.path when it runs
from lxml import etree

from twin.pipeline import REPORT_NAME

ROOT = Path(__file__).resolve().parents[1]
MEMBER = "{http://www.opengis.net/citygml/2.0}cityObjectMember"


@dataclass(frozen=True)
class Result:
    buildings: int
    input_mb: float
    iterparse_s: float
    iterparse_cpu_s: float
    import_s: float
    import_cpu_s: float
    peak_rss_mb: float
    tree_rss_mb: float
    tileset_bytes: int

    def row(self) -> str:
        return (
            f"{self.buildings:>9,} {self.input_mb:>9.1f} {self.iterparse_s:>8.2f} "
            f"{self.import_s:>8.2f} {self.buildings / self.import_s:>9,.0f} "
            f"{self.input_mb / self.import_s:>6.2f} {self.import_s / self.iterparse_s:>7.1f}x "
            f"{self.import_cpu_s:>6.1f} {self.import_cpu_s / self.iterparse_cpu_s:>7.1f}x "
            f"{self.peak_rss_mb:>8.0f} {self.tree_rss_mb:>8.0f} "
            f"{self.tileset_bytes / self.buildings:>8,.0f}"
        )


HEADER = (
    f"{'buildings':>9} {'input MB':>9} {'parse s':>8} {'import s':>8} {'bldg/s':>9} "
    f"{'MB/s':>6} {'ratio':>8} {'cpu s':>6} {'cpu rat':>8} {'RSS MB':>8} {'tree MB':>8} "
    f"{'B/bldg':>8}"
)


def bare_iterparse(path: Path) -> tuple[float, float]:
    """Return the seconds (wall, CPU) a bare streaming iterparse over ``path`` takes."""
    started, cpu = time.perf_counter(), time.process_time()
    for _, element in etree.iterparse(str(path), events=("end",), huge_tree=True):
        if element.tag == MEMBER:
            element.clear()
            parent = element.getparent()
            while parent is not None and element.getprevious() is not None:
                del parent[0]
    return time.perf_counter() - started, time.process_time() - cpu


def run_import(path: Path, data_dir: Path, extra: list[str]) -> tuple[float, float, float, float]:
    """Import ``path`` in a child process; return (wall seconds, CPU seconds, peak RSS MB of
    the importing process, peak summed RSS MB of it and its workers).

    CPU is user + sys of the child and of the worker processes it waited for.
    """
    command = [sys.executable, "-m", "twin.cli", "import", "--data-dir", str(data_dir)]
    command += ["--dataset", "bench", *extra, str(path)]
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    peak = [0]
    done = threading.Event()
    sampler = threading.Thread(target=sample_tree_rss, args=(child.pid, peak, done))
    sampler.start()
    try:
        _, status, usage = os.wait4(child.pid, 0)
    finally:
        done.set()
        sampler.join()
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"twin import failed ({child.returncode}) on {path}")
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, cpu, usage.ru_maxrss / 1024.0, peak[0] / 2**20  # Linux: ru_maxrss in KiB


def sample_tree_rss(pid: int, peak: list[int], done: threading.Event) -> None:
    """Keep in ``peak[0]`` the largest summed VmRSS (bytes) of ``pid`` and its descendants."""
    while not done.wait(0.2):
        peak[0] = max(peak[0], sum(rss_bytes(p) for p in [pid, *descendants(pid)]))


def descendants(pid: int) -> list[int]:
    """Return the pids below ``pid`` (from ``/proc/<pid>/task/*/children``)."""
    found = []
    for tasks in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            kids = [int(k) for k in tasks.read_text().split()]
        except OSError:  # the task ended meanwhile
            continue
        for kid in kids:
            found += [kid, *descendants(kid)]
    return found


def rss_bytes(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # the process ended meanwhile
        return 0
    kib = next((line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return int(kib) * 1024


def tree_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.resolve().rglob("*") if p.is_file())


def bench(n: int, workdir: Path, seed: int, extra: list[str]) -> Result:
    path = workdir / f"city-{n}.gml"
    if not path.exists():
        print(f"writing {path} …", file=sys.stderr, flush=True)
        synth_city.write_city(path, n, seed=seed)
    parse_s, parse_cpu_s = bare_iterparse(path)
    data_dir = workdir / f"data-{n}"
    shutil.rmtree(data_dir, ignore_errors=True)
    import_s, import_cpu_s, rss_mb, tree_mb = run_import(path, data_dir, extra)
    tileset = data_dir / "tilesets" / "bench"
    size = tree_bytes(tileset) - (tileset / REPORT_NAME).stat().st_size  # tileset files only
    mb = path.stat().st_size / 1e6
    return Result(n, mb, parse_s, parse_cpu_s, import_s, import_cpu_s, rss_mb, tree_mb, size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, help="keep inputs here (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("import_args", nargs="*", help="extra `twin import` flags (after --)")
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="twin-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"cpus {os.cpu_count()}  python {sys.version.split()[0]}  lxml {etree.__version__}")
    print(HEADER, flush=True)
    results: list[Result] = []
    try:
        for n in args.sizes:
            results.append(bench(n, workdir, args.seed, args.import_args))
            print(results[-1].row(), flush=True)
        for r in results[1:]:  # flat in N means these stay near 1 however large the city
            print(
                f"peak RSS at {r.buildings:,} / at {results[0].buildings:,} buildings: "
                f"importer {r.peak_rss_mb / results[0].peak_rss_mb:.2f}x, "
                f"with workers {r.tree_rss_mb / results[0].tree_rss_mb:.2f}x "
                f"({r.buildings / results[0].buildings:.0f}x the buildings)"
            )
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
