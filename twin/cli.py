"""The ``twin`` command: ``twin import``, ``twin serve`` and ``twin simulate``.

Configuration is read here once (flags, then ``TWIN_*`` environment variables) and passed down.
This is the only module that configures logging or prints.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, cast, get_args

from tiles import Compression, TileFormat
from tiles.sizes import PARTS
from twin import __version__
from twin.errors import TwinError
from twin.model import LodChoice

__all__ = ["main"]

log = logging.getLogger("twin")

DEFAULT_DATA_DIR = "./twin-data"
VIEWER_DIR = Path(__file__).resolve().parents[1] / "viewer"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 1 failed, 2 usage)."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG
        if args.verbose
        else logging.INFO
        if args.command == "serve"
        else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        status: int = args.run(args)
    except TwinError as exc:
        print(f"twin: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("twin: interrupted", file=sys.stderr)
        return 130
    return status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="twin", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"twin {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True)

    imp = commands.add_parser(
        "import", help="import CityGML/CityJSON files, directories or archives as a dataset"
    )
    imp.add_argument("files", nargs="+", type=Path, metavar="FILE")
    imp.add_argument("--dataset", help="dataset name (default: the first file's name)")
    imp.add_argument("--title", help="human-readable dataset title")
    imp.add_argument(
        "--crs", help="CRS of the input when the file has none or a wrong one, e.g. EPSG:25832"
    )
    imp.add_argument(
        "--max-features", type=_at_least(1), default=400, help="features per tile (400)"
    )
    imp.add_argument(
        "--max-bytes",
        type=_at_least(1),
        default=2_000_000,
        help="estimated bytes per tile (2000000)",
    )
    imp.add_argument(
        "--levels-per-file",
        type=_at_least(0),
        default=4,
        help="tile levels per tileset JSON before subtrees become external tilesets (4; 0: one)",
    )
    imp.add_argument(
        "--workers", type=int, help="processes for geometry and tiles (default: all cores)"
    )
    imp.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run geometry and tiles on a Dask cluster, e.g. tcp://scheduler:8786 "
        "(its workers need twin installed)",
    )
    imp.add_argument(
        "--compress",
        choices=get_args(Compression),
        default="meshopt",
        help="meshopt: EXT_meshopt_compression + KHR_mesh_quantization (default); draco: "
        "KHR_draco_mesh_compression; quantize: int8 normals only; none: plain floats",
    )
    imp.add_argument(
        "--format",
        choices=get_args(TileFormat),
        default="glb",
        help="glb: 3D Tiles 1.1 (default); b3dm: 3D Tiles 1.0 + batch tables, for legacy clients",
    )
    imp.add_argument(
        "--lod",
        type=_lod,
        default="highest",
        help="LoD per object: highest (default), 0-4, or all (lower LoDs as <id>.lod<n>)",
    )
    imp.add_argument(
        "--types",
        type=_types,
        help="top-level object types to import, e.g. Building,Road (default: all)",
    )
    imp.add_argument(
        "--appearance-theme",
        metavar="THEME",
        help="appearance theme to draw (textures, materials); default: the first in the input",
    )
    imp.add_argument(
        "--keep-going",
        action="store_true",
        help="on malformed XML keep the objects before the error and report the rest",
    )
    _add_data_dir(imp)
    imp.set_defaults(run=_run_import)

    serve = commands.add_parser("serve", help="serve tiles, the catalog and the viewer")
    serve.add_argument("--host", default=os.environ.get("TWIN_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("TWIN_PORT", "8000")))
    serve.add_argument(
        "--token",
        action="append",
        default=[],
        metavar="TOKEN",
        help="bearer token allowed to write through NGSI-LD (repeatable; env TWIN_TOKENS, "
        "comma-separated); without any, writes are open",
    )
    serve.add_argument(
        "--no-access-log",
        action="store_true",
        default=os.environ.get("TWIN_ACCESS_LOG", "on") == "off",
        help="log no line per request (env TWIN_ACCESS_LOG=off); by default they are logged "
        "in batches every 0.5 s",
    )
    _add_federation(serve)
    _add_data_dir(serve)
    serve.set_defaults(run=_run_serve)
    _add_simulate(commands)
    return parser


def _add_federation(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--context-broker",
        metavar="URL",
        default=os.environ.get("TWIN_CONTEXT_BROKER"),
        help="mirror entities of this external NGSI-LD broker (env TWIN_CONTEXT_BROKER), "
        "e.g. http://orion:1026",
    )
    serve.add_argument("--tenant", help="the external broker's NGSILD-Tenant (default: none)")
    serve.add_argument(
        "--types",
        type=_types,
        default=("Device", "IndoorEnvironmentObserved"),
        help="entity types to mirror (Device,IndoorEnvironmentObserved); add Building only "
        "when the external broker owns the buildings: mirrored entities replace local ones",
    )
    serve.add_argument(
        "--public-url",
        help="this server's URL as the broker reaches it (default: http://HOST:PORT)",
    )


def _add_simulate(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = commands.add_parser(
        "simulate", help="feed live readings for a dataset's buildings to a running twin"
    )
    sim.add_argument("--dataset", required=True, help="the dataset whose buildings get readings")
    sim.add_argument("--interval", type=float, default=2.0, help="seconds between rounds (2)")
    sim.add_argument("--url", default=os.environ.get("TWIN_URL", "http://127.0.0.1:8000"))
    sim.add_argument(
        "--token",
        default=None,
        help="bearer token for writes (env TWIN_TOKEN, else the first of TWIN_TOKENS)",
    )
    sim.add_argument("--count", type=int, default=None, help="stop after this many rounds")
    sim.add_argument("--duration", type=float, default=None, help="stop after these seconds")
    sim.add_argument("--seed", type=int, default=0, help="random seed (0)")
    sim.set_defaults(run=_run_simulate)


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("TWIN_DATA_DIR", DEFAULT_DATA_DIR)),
        help="where twin keeps its database and tilesets (env TWIN_DATA_DIR; ./twin-data)",
    )


def _run_import(args: argparse.Namespace) -> int:
    from twin.pipeline import REPORT_NAME, ImportOptions, TileBudget, import_files
    from twin.store import SQLiteStore

    dataset = args.dataset or _dataset_name(args.files[0])
    options = ImportOptions(
        dataset=dataset,
        title=args.title,
        crs=args.crs,
        budget=TileBudget(args.max_features, args.max_bytes, args.levels_per_file),
        lod=args.lod,
        types=args.types,
        keep_going=args.keep_going,
        workers=args.workers,
        dask=args.dask,
        compress=args.compress,
        tile_format=args.format,
        appearance_theme=args.appearance_theme,
    )
    progress = _Progress() if sys.stderr.isatty() else None
    store = SQLiteStore(args.data_dir, importing=True)
    try:
        report = import_files(args.files, store, options, progress)
    finally:
        if progress is not None:
            progress.done()
        store.close()
    print(f"Imported dataset {dataset!r} from {len(args.files)} file(s) in {report.seconds:.2f} s")
    by_type = ", ".join(f"{t} {n}" for t, n in sorted(report.imported_by_type.items()))
    print(f"  objects read   {report.objects_read}")
    print(f"  imported       {report.imported} ({by_type})")
    print(f"  rejected       {len(report.rejections)}")
    for r in report.rejections[:10]:
        named = r.object_type if r.object_id is None else f"{r.object_type} {r.object_id}"
        print(f"    {named} at {r.source}: {r.reason}")
    if len(report.rejections) > 10:
        print(f"    … {len(report.rejections) - 10} more in the report")
    for srs, info in report.crs.items():
        print(f"  CRS            {srs}; geoid: {info['geoid']}")
        for placed in cast("list[str]", info.get("placed", [])):
            print(f"    {placed}")
    looks = report.as_json().get("appearance")
    if isinstance(looks, dict):
        print(
            f"  appearance     {looks['textured_surfaces']} textured, "
            f"{looks['material_surfaces']} material surface(s); theme {looks['theme']!r}"
        )
        for bad in [*looks["missing_images"], *looks["unreadable_images"]]:
            print(
                f"    image {bad['image']} unusable: {bad['surfaces']} surface(s) in class colour"
            )
    if report.warnings:
        print(f"  warnings       {len(report.warnings)} (all in the report)")
        for warning in report.warnings[:3]:
            print(f"    {warning}")
    print(f"  tiles          {report.tiles} ({report.tile_bytes / 1e6:.2f} MB)")
    _print_sizes(report.tile_sizes.as_json())
    served = args.data_dir / "tilesets" / dataset
    print(f"  tileset        {served / 'tileset.json'}")
    print(f"  report         {served / REPORT_NAME}")
    return 0


def _print_sizes(sizes: dict[str, Any]) -> None:
    """Print bytes per object, per type (heaviest type first) and the three heaviest objects."""
    types = sorted(sizes["by_type"].items(), key=lambda t: -t[1]["bytes"])
    per_type = ", ".join(
        f"{name} {t['bytes_per_object']:,.0f} B × {t['objects']}"
        for name, t in types
        if t["objects"]
    )
    print(f"  per object     {sizes['bytes_per_object']:,.0f} B ({per_type})")
    for heavy in sizes["heaviest"][:3]:
        part = max(PARTS, key=lambda k: heavy[k])
        print(
            f"    {heavy['type']} {heavy['id']}: {heavy['bytes']:,} B, {heavy['triangles']:,} "
            f"triangles, mostly {part} ({heavy[part]:,} B)"
        )


def _run_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from twin.server import create_app
    from twin.server.access import BatchedAccessLogger, flush_access_log
    from twin.store import SQLiteStore

    tokens = _tokens(args.token)
    store = SQLiteStore(args.data_dir)
    app = create_app(store, viewer_dir=VIEWER_DIR, tokens=tokens)
    if args.context_broker:
        from twin.server.ngsild.federation import FederationOptions, add_federation

        public = args.public_url or f"http://{args.host}:{args.port}"
        add_federation(app, FederationOptions(
            broker_url=args.context_broker, callback_url=public, types=args.types,
            tenant=args.tenant,
        ))  # fmt: skip
    print(f"twin {__version__}: serving {args.data_dir} at http://{args.host}:{args.port}/viewer/")
    print(f"  NGSI-LD API    http://{args.host}:{args.port}/ngsi-ld/v1/")
    if tokens:
        print(f"  writes need    Authorization: Bearer <token> ({len(tokens)} token(s) configured)")
    else:
        print("  writes are open to anyone: set a token with --token T or env TWIN_TOKENS=T1,T2")
    if args.context_broker:
        print(f"  mirroring      {', '.join(args.types)} from {args.context_broker}")
    try:
        web.run_app(
            app, host=args.host, port=args.port, print=None,
            access_log=None if args.no_access_log else logging.getLogger("aiohttp.access"),
            access_log_class=BatchedAccessLogger,
        )  # fmt: skip
    finally:
        flush_access_log()
        store.close()
    return 0


def _run_simulate(args: argparse.Namespace) -> int:
    import asyncio

    from twin.sim.client import SimulateOptions, simulate

    token = args.token or os.environ.get("TWIN_TOKEN") or (_tokens([]) or (None,))[0]
    options = SimulateOptions(
        url=args.url, dataset=args.dataset, interval_s=args.interval, token=token,
        count=args.count, duration_s=args.duration, seed=args.seed,
    )  # fmt: skip
    print(f"twin simulate: {args.dataset} → {args.url} every {args.interval:g} s")
    report = asyncio.run(simulate(options))
    print(
        f"twin simulate: {report.rounds} rounds, {report.updates} building updates "
        f"({report.buildings} buildings), {report.failures} refused"
    )
    return 0 if report.failures == 0 else 1


def _at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is less than {minimum}")
        return value

    return parse


def _lod(text: str) -> LodChoice:
    if text in ("highest", "all"):
        return cast("LodChoice", text)
    if text in ("0", "1", "2", "3", "4"):
        return cast("LodChoice", int(text))
    raise argparse.ArgumentTypeError(f"{text!r} is not highest, all or 0 to 4")


def _types(text: str) -> tuple[str, ...]:
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    if not names:
        raise argparse.ArgumentTypeError("give type names separated by commas, e.g. Building,Road")
    return names


def _tokens(flags: Sequence[str]) -> tuple[str, ...]:
    """Return the write tokens of ``--token`` flags and env ``TWIN_TOKENS`` (comma-separated)."""
    from_env = os.environ.get("TWIN_TOKENS", "").split(",")
    return tuple(dict.fromkeys(t.strip() for t in (*flags, *from_env) if t.strip()))


def _dataset_name(path: Path) -> str:
    stem = path.name.split(".")[0]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-._")
    return name[:64] or "dataset"


class _Progress:
    """A one-line progress bar on stderr for long imports: each stage, how far it is.

    Redrawn at most every 0.2 s, and whenever a stage starts or ends.
    """

    _LABELS: Final = {"read": ("reading", "objects"), "tile": ("tiling", "tiles"),
                      "publish": ("publishing", "objects")}  # fmt: skip
    _WIDTH: Final = 20

    def __init__(self) -> None:
        self._last = 0.0
        self._stage = ""

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self._last < 0.2 and stage == self._stage and done != total:
            return
        self._last, self._stage = now, stage
        label, unit = self._LABELS[stage]
        if total is None:
            text = f"{label}… {done} {unit}"
        else:
            filled = self._WIDTH * done // max(total, 1)
            bar = "#" * filled + "-" * (self._WIDTH - filled)
            text = f"{label:<10} [{bar}] {done}/{total} {unit}"
        print(f"\r\033[K  {text}", end="", file=sys.stderr, flush=True)

    def done(self) -> None:
        print("\r\033[K", end="", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
