#!/usr/bin/env python3
"""Benchmark what appearances cost the CityGML reader, as ratios to floors measured in this run.

1. An untextured city pays one byte scan for appearances: its CPU time over a bare lxml
   iterparse of the same synthetic city (``scripts/synth_city.py``).
2. A textured city pays for reading its appearances: the CPU time of reading each textured
   sample of ``../shared/data`` with appearances over reading it with them switched off.
3. Top-level appearances after one ``gml:featureMembers`` holding every object: the peak RSS
   of the pass that reads them first (a child process), over the floor of a child that only
   imports twin's reader.
4. A district of 256 one-wall buildings sharing one atlas (c4j's 1024×1024 facade photo), each
   wall textured with its own 64×64 cell, tiled 16 buildings a tile: the image bytes all tiles
   embed, over the atlas's own bytes (a tile embedding the whole atlas costs 1 each), and the
   CPU time of that import over the same import with the atlas kept whole (each tile decodes
   the whole atlas to crop it).
5. What cropping costs: the CPU time of importing the PLATEAU textured sample (one tile a
   building) over the same import with images kept whole (no crop, so no decoding).

CPU time (``time.process_time``, best of ``--repeat``), so other processes on the machine
cancel out.

Usage::

    scripts/bench_appearance.py                 # a 20k-building synthetic city
    scripts/bench_appearance.py --buildings 5000 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

from lxml import etree

from twin.citygml import iter_city_objects, reader
from twin.citygml.appearance import open_appearances
from twin.model import AppearanceLog

ROOT = Path(__file__).resolve().parents[1]
TEXTURED = (
    "citygml/c4j_lod3_building_v2/c4j_lod3_building_v2.gml",
    "citygml/plateau_52397519_bldg_6697_op/plateau_52397519_bldg_6697_op.gml",
    "citygml/plateau_52385628_veg_6697_op.gml",
)


def _best(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return min(times)


def _iterparse(path: Path) -> None:
    with path.open("rb") as stream:
        for _, element in etree.iterparse(stream, events=("end",), tag="{*}cityObjectMember"):
            element.clear()


def _scan(path: Path) -> None:
    with path.open("rb") as stream:
        open_appearances(path, stream, None, AppearanceLog())


def _read(path: Path) -> None:
    for _ in iter_city_objects(path):
        pass


_PASS = """
import sys
from pathlib import Path
from twin.citygml.appearance import Appearances
from twin.model import AppearanceLog
path = Path(sys.argv[1])
if path.name != "-":
    with path.open("rb") as stream:
        Appearances(path.parent, None, AppearanceLog()).read_members(stream)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec.
status = Path("/proc/self/status").read_text().splitlines()
print(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
"""


def _feature_members_with_appearances(city: Path, out: Path, buildings: int) -> None:
    """Rewrite the synthetic city: every object in one featureMembers, then one
    appearanceMember per building giving its first polygon an X3DMaterial."""
    text = city.read_text()
    text = text.replace("<core:cityObjectMember>", "").replace("</core:cityObjectMember>", "")
    text = text.replace("</gml:boundedBy>\n", "</gml:boundedBy>\n<gml:featureMembers>", 1)
    text = text.replace(
        'xmlns:core="http://www.opengis.net/citygml/2.0"',
        'xmlns:core="http://www.opengis.net/citygml/2.0" '
        'xmlns:app="http://www.opengis.net/citygml/appearance/2.0"',
        1,
    )
    members = "".join(
        "<app:appearanceMember><app:Appearance><app:surfaceDataMember><app:X3DMaterial>"
        f"<app:target>#SYN_{i:07d}_p0</app:target></app:X3DMaterial></app:surfaceDataMember>"
        "</app:Appearance></app:appearanceMember>\n"
        for i in range(buildings)
    )
    out.write_text(
        text.replace("</core:CityModel>", f"</gml:featureMembers>{members}</core:CityModel>")
    )


def _peak_rss_mb(path: str) -> float:
    run = subprocess.run([sys.executable, "-c", _PASS, path], check=True, capture_output=True)
    return int(run.stdout) / 1024  # kB


ATLAS = "citygml/c4j_lod3_building_v2/appearances/testtown-001.jpg"
_CELLS = 16  # the district is 16 × 16 buildings, the atlas 16 × 16 cells


def _embedded_image_bytes(folder: Path) -> tuple[int, int]:
    """Return the tiles under ``folder`` that embed images, and the image bytes they embed."""
    tiles = total = 0
    for tile in folder.rglob("*.glb"):
        data = tile.read_bytes()
        (length,) = struct.unpack("<I", data[12:16])
        document = json.loads(data[20 : 20 + length])
        views = [document["bufferViews"][i["bufferView"]] for i in document.get("images", [])]
        tiles += bool(views)
        total += sum(v["byteLength"] for v in views)
    return tiles, total


def _shared_atlas(data: Path, repeat: int) -> None:
    from twin.pipeline import ImportOptions, TileBudget, import_files
    from twin.store import SQLiteStore

    # The fixture builder of the tests; tests/ goes on the path after the package ``tiles`` is
    # imported, which its tests/tiles/ folder would shadow.
    sys.path.append(str(ROOT / "tests"))
    from appearance_documents import write_district

    atlas = data / ATLAS
    with tempfile.TemporaryDirectory() as folder:
        source = write_district(Path(folder), atlas, _CELLS)
        store = SQLiteStore(Path(folder) / "data")
        options = ImportOptions(dataset="d", workers=1, budget=TileBudget(max_features=16))
        import_files([source], store, options)
        tiles, embedded = _embedded_image_bytes(store.tileset_dir("d"))
        store.close()
        cropped, whole = (_import_cpu(source, repeat, crop, 16) for crop in (True, False))
    size = atlas.stat().st_size
    print(f"{_CELLS * _CELLS} buildings sharing one {size / 1e3:.0f} kB atlas, 16 a tile")
    print(f"  image bytes in {tiles} tiles / atlas bytes          {embedded / size:.2f}")
    print(
        f"  CPU with crops / with the atlas whole        {cropped / whole:.2f}  ({cropped:.2f} s)"
    )


def _import_cpu(path: Path, repeat: int, crop: bool, max_features: int = 1) -> float:
    from tiles import images
    from twin.pipeline import ImportOptions, TileBudget, import_files
    from twin.store import SQLiteStore

    def run() -> None:
        with tempfile.TemporaryDirectory() as folder:
            store = SQLiteStore(Path(folder) / "data")
            budget = TileBudget(max_features=max_features)
            options = ImportOptions(dataset="p", workers=1, budget=budget)
            import_files([path], store, options)
            store.close()

    share = images.MAX_CROPPED_SHARE if crop else 0.0
    with mock.patch.object(images, "MAX_CROPPED_SHARE", share):
        return _best(run, repeat)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--buildings", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        city = Path(folder) / "city.gml"
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "synth_city.py"),
                str(args.buildings),
                str(city),
            ],
            check=True,
            capture_output=True,
        )
        floor = _best(lambda: _iterparse(city), args.repeat)
        scan = _best(lambda: _scan(city), args.repeat)
        size_mb = city.stat().st_size / 1e6
        print(f"untextured synthetic city, {args.buildings} buildings, {size_mb:.0f} MB")
        print(f"  appearance byte scan / bare iterparse   {scan / floor:.3f}  ({scan:.3f} s)")
        plural = Path(folder) / "feature-members.gml"
        _feature_members_with_appearances(city, plural, args.buildings)
        rss_floor, rss = _peak_rss_mb("-"), _peak_rss_mb(str(plural))
        print(f"one featureMembers + {args.buildings} top-level appearanceMembers")
        print(
            f"  appearance pre-pass peak RSS / import floor   {rss / rss_floor:.2f}  ({rss:.0f} MB)"
        )
    _shared_atlas(args.data, args.repeat)
    plateau = args.data / TEXTURED[1]
    cropped, whole = (_import_cpu(plateau, args.repeat, crop) for crop in (True, False))
    print(f"import {plateau.name}, one tile a building")
    print(f"  CPU with crops / with images whole          {cropped / whole:.2f}  ({cropped:.2f} s)")
    print("textured samples: read with appearances / read without")
    for name in TEXTURED:
        path = args.data / name
        with_looks = _best(lambda p=path: _read(p), args.repeat)
        with mock.patch.object(reader, "open_appearances", return_value=None):
            without = _best(lambda p=path: _read(p), args.repeat)
        print(f"  {path.name:45s} {with_looks / without:.2f}  ({with_looks:.3f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
