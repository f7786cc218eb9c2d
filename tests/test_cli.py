"""The twin command: exit codes and located messages, as a user sees them."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from twin.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_import_prints_a_summary_and_writes_the_report(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = shared_data / "citygml/teco_district1_LoD2.gml"
    status, out, _ = run(capsys, "import", source, "--data-dir", tmp_path, "--dataset", "teco")
    assert status == 0
    assert "objects read   104" in out
    assert "imported       104 (Building 104)" in out
    assert "rejected       0" in out
    assert "geoid: EGM96" in out
    # bytes per object and per type, then the heaviest objects and what they are made of
    assert re.search(r"\n  per object +[\d,]+ B \(Building [\d,]+ B × 104\)\n", out)
    heavy = re.findall(r"\n    Building (\S+): ([\d,]+) B, [\d,]+ triangles, mostly (\w+)", out)
    assert len(heavy) == 3
    assert [int(b.replace(",", "")) for _, b, _ in heavy] == sorted(
        (int(b.replace(",", "")) for _, b, _ in heavy), reverse=True
    )
    report = json.loads((tmp_path / "tilesets/teco/import-report.json").read_text())
    assert [h["id"] for h in report["tiles"]["heaviest"][:3]] == [i for i, _, _ in heavy]
    assert report["objects"] == {
        "read": 104,
        "imported": 104,
        "rejected": 0,
        "imported_by_type": {"Building": 104},
    }
    # The file's solids point at ids that do not exist; the report says so for each building.
    xlinks = [w for w in report["warnings"] if "xlink(s) point to no polygon" in w]
    assert len(xlinks) == 104
    # and 24 of its rings repeat a point (geometry.validate)
    others = [w for w in report["warnings"] if w not in xlinks]
    assert len(others) == 24
    assert all("GE_R_CONSECUTIVE_POINTS_SAME" in w for w in others)


def test_dataset_name_defaults_to_the_file_name(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = shared_data / "citygml/teco_FZK-Haus-LoD2-KIT-IAI-KHH-B36-V1.gml"
    status, out, _ = run(capsys, "import", source, "--data-dir", tmp_path)
    assert status == 0
    assert "Imported dataset 'teco_FZK-Haus-LoD2-KIT-IAI-KHH-B36-V1'" in out


def test_data_dir_comes_from_the_environment(
    shared_data: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TWIN_DATA_DIR", str(tmp_path / "env-dir"))
    source = shared_data / "citygml/teco_FZK-Haus-LoD2-KIT-IAI-KHH-B36-V1.gml"
    status, _, _ = run(capsys, "import", source, "--dataset", "fzk")
    assert status == 0
    assert (tmp_path / "env-dir/tilesets/fzk/tileset.json").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["missing.gml"], r"missing\.gml: no such file", id="missing-file"),
        pytest.param(
            ["{shared}/citygml/qie_v002.gml"],
            r"qie_v002\.gml: no srsName for Building .* nor in the file's envelope; "
            r"pass the CRS with --crs",
            id="no-crs",
        ),
        pytest.param(
            ["{shared}/cityjson/cjio_multi_lod.json"],
            r"cjio_multi_lod\.json: no CRS for Building .*: the file's metadata has no "
            r"referenceSystem; pass the CRS with --crs",
            id="no-crs-cityjson",
        ),
        pytest.param(
            ["{shared}/citygml/teco_FZK-Haus-LoD2-KIT-IAI-KHH-B36-V1.gml", "--crs", "EPSG:999999"],
            r"unknown CRS 'EPSG:999999'; pass the CRS with --crs",
            id="unknown-crs",
        ),
        pytest.param(
            ["{tmp}/unanchored.gml"],
            r"unanchored\.gml: srsName '#local-CRS-1' refers to a CRS defined inside the file .*"
            r"pass the CRS with --crs",
            id="local-crs-without-anchor",
        ),
        pytest.param(["{tmp}/broken.gml"], r"broken\.gml:4:\d+: malformed XML", id="malformed-xml"),
        pytest.param(
            ["{tmp}/broken.gml", "--dataset", "../x"], r"invalid dataset name", id="bad-name"
        ),
    ],
)
def test_bad_input_fails_with_a_located_message(
    shared_data: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.gml").write_text(
        '<?xml version="1.0"?>\n<core:CityModel xmlns:core="http://www.opengis.net/citygml/2.0">\n'
        "  <core:cityObjectMember>\n  </core:cityObjectMemberX>\n</core:CityModel>\n"
    )
    local = (shared_data / "citygml/ogc_v2_Building_LOD1-LocalEngineeringCRS.gml").read_text()
    unanchored = re.sub(r"<gml:anchorPoint.*?</gml:anchorPoint>", "", local)
    (tmp_path / "unanchored.gml").write_text(unanchored)
    argv = [a.format(shared=shared_data, tmp=tmp_path) for a in args]
    status, out, err = run(capsys, "import", *argv, "--data-dir", tmp_path / "data")
    assert status == 1
    assert out == ""
    assert err.startswith("twin: error: ")
    assert err.count("\n") == 1
    assert re.search(message, err), err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["import"])
    assert info.value.code == 2
    assert "required: FILE" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "choices"),
    [
        ("--compress", "'none', 'quantize', 'meshopt', 'draco'"),
        ("--format", "'glb', 'b3dm'"),
    ],
)
def test_a_wrong_choice_names_the_choices(
    capsys: pytest.CaptureFixture[str], flag: str, choices: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["import", "city.gml", flag, "zip"])
    assert info.value.code == 2
    assert f"argument {flag}: invalid choice: 'zip' (choose from {choices})" in (
        capsys.readouterr().err
    )


_LOADED = (
    "import sys, twin.cli\n"
    "try:\n    twin.cli.main(['import', '--help'])\nexcept SystemExit:\n    pass\n"
    "print(sorted(m for m in ('twin.pipeline', 'twin.store', 'aiohttp') if m in sys.modules))"
)


def test_parsing_the_command_line_loads_no_pipeline_store_or_server() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _LOADED], check=True, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.splitlines()[-1] == "[]"


def _report(data_dir: Path, dataset: str) -> dict[str, object]:
    return dict(json.loads((data_dir / f"tilesets/{dataset}/import-report.json").read_text()))


def test_types_selects_the_top_level_objects(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # cjio_delft.json: Road 143 and WaterBody 3 among six types (MANIFEST.md)
    source = shared_data / "cityjson/cjio_delft.json"
    status, _, _ = run(
        capsys, "import", source, "--data-dir", tmp_path, "--dataset", "d",
        "--types", "Road,WaterBody",
    )  # fmt: skip
    assert status == 0
    imported = _report(tmp_path, "d")["objects"]
    assert imported["imported_by_type"] == {"Road": 143, "WaterBody": 3}  # type: ignore[index]


def test_lod_picks_the_level_and_all_keeps_the_lower_ones(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # PLATEAU buildings with LoD0, LoD1 and LoD2 geometry (MANIFEST.md): 13 Buildings, 2 parts
    source = shared_data / "citygml/plateau_52397519_bldg_6697_op/plateau_52397519_bldg_6697_op.gml"
    counts = {}
    for lod in ("highest", "1", "all"):
        status, _, _ = run(
            capsys, "import", source, "--data-dir", tmp_path, "--dataset", f"l{lod}", "--lod", lod
        )
        assert status == 0
        counts[lod] = _report(tmp_path, f"l{lod}")["objects"]["imported"]  # type: ignore[index]
    assert counts["highest"] == counts["1"] == 15
    # "all": each object once per LoD it has; the lower ones come as <id>.lod<n> children
    assert counts["all"] > counts["highest"]
    with pytest.raises(SystemExit) as info:
        main(["import", str(source), "--data-dir", str(tmp_path), "--lod", "5"])
    assert info.value.code == 2
    assert "'5' is not highest, all or 0 to 4" in capsys.readouterr().err


def test_keep_going_imports_what_precedes_a_syntax_error(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (shared_data / "citygml/teco_district1_LoD2.gml").read_text()
    cut = text.index("<core:cityObjectMember>", len(text) // 2)
    broken = tmp_path / "truncated.gml"
    broken.write_text(text[:cut] + "<core:cityObjectMember><bldg:Building>\n</core:CityModel>")
    status, _, err = run(capsys, "import", broken, "--data-dir", tmp_path / "a")
    assert status == 1
    assert re.search(r"truncated\.gml:\d+:\d+: malformed XML", err), err
    status, out, _ = run(capsys, "import", broken, "--data-dir", tmp_path / "b", "--keep-going")
    assert status == 0
    assert re.search(r"^    document at \S*truncated\.gml:\d+: ", out, re.MULTILINE), out
    report = _report(tmp_path / "b", "truncated")
    read_before = text[:cut].count("<bldg:Building ")
    assert report["objects"]["imported"] == read_before > 10  # type: ignore[index]
    (rejection,) = report["rejections"]  # type: ignore[misc]
    assert re.search(r"truncated\.gml:\d+:\d+: malformed XML", rejection["reason"])


def _on_a_terminal(argv: list[str]) -> str:
    """Run ``argv`` with stdout and stderr on a pseudo-terminal; return all it wrote."""
    parent, child = pty.openpty()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=child, stderr=child)
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(parent, 65536)
        except OSError:  # EIO: the child side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(parent)
    assert proc.wait(timeout=120) == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode()


def test_import_on_a_terminal_shows_the_progress_of_every_stage(
    shared_data: Path, tmp_path: Path
) -> None:
    source = shared_data / "citygml/teco_district1_LoD2.gml"
    out = _on_a_terminal(
        [sys.executable, "-m", "twin.cli", "import", str(source), "--data-dir", str(tmp_path),
         "--dataset", "teco", "--max-features", "10", "--workers", "1"]
    )  # fmt: skip
    frames = [f.replace("\x1b[K", "").strip() for f in re.split(r"[\r\n]", out)]
    tiles = _report(tmp_path, "teco")["tiles"]["count"]  # type: ignore[index]
    bar = r"\[[#-]{20}\]"
    # Each stage ends on a full bar with its total; tiles and records count up to theirs.
    last = [
        frames.index(f"reading    [{'#' * 20}] 104/104 objects"),
        frames.index(f"tiling     [{'#' * 20}] {tiles}/{tiles} tiles"),
        frames.index(f"publishing [{'#' * 20}] 104/104 objects"),
    ]
    assert last == sorted(last)
    tiling = [
        int(m[1]) for f in frames if (m := re.fullmatch(rf"tiling +{bar} (\d+)/\d+ tiles", f))
    ]
    assert tiling == sorted(tiling)
    assert tiles > 10
