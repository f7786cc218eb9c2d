"""Import options of the tiler: compression on by default, off on request; CLI flags reach it."""

from __future__ import annotations

from pathlib import Path

import glb_reader
import pytest

from twin.cli import main
from twin.pipeline import ImportOptions, TileBudget, import_files
from twin.store import SQLiteStore

TECO = "citygml/teco_district1_LoD2.gml"


@pytest.mark.parametrize(("compress", "required"), [
    ("meshopt", ["EXT_meshopt_compression", "KHR_mesh_quantization"]),
    ("draco", ["KHR_draco_mesh_compression"]),
    ("quantize", ["KHR_mesh_quantization"]),
    ("none", []),
])  # fmt: skip
def test_compress_option_sets_the_extension(
    shared_data: Path, store: SQLiteStore, compress: str, required: list[str]
) -> None:
    options = ImportOptions(
        dataset="teco",
        budget=TileBudget(max_features=40),
        workers=1,
        compress=compress,  # type: ignore[arg-type]
    )
    import_files([shared_data / TECO], store, options)
    for glb in sorted(store.tileset_dir("teco").glob("content/*.glb")):
        gltf, _ = glb_reader.load(glb.read_bytes())
        assert gltf.extensionsRequired == required


def test_cli_passes_workers_and_compress(shared_data: Path, tmp_path: Path) -> None:
    argv = ["import", "--data-dir", str(tmp_path), "--dataset", "t", "--workers", "1"]
    assert main([*argv, "--compress", "none", str(shared_data / TECO)]) == 0
    store = SQLiteStore(tmp_path)
    try:
        glb = next(store.tileset_dir("t").glob("content/*.glb"))
    finally:
        store.close()
    assert not glb_reader.load(glb.read_bytes())[0].extensionsRequired


def test_compression_is_on_by_default(shared_data: Path, store: SQLiteStore) -> None:
    import_files([shared_data / TECO], store, ImportOptions(dataset="teco", workers=1))
    for glb in sorted(store.tileset_dir("teco").glob("content/*.glb")):
        gltf, _ = glb_reader.load(glb.read_bytes())
        assert "EXT_meshopt_compression" in gltf.extensionsRequired


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--levels-per-file", "-1", "-1 is less than 0"),
        ("--max-features", "0", "0 is less than 1"),
        ("--max-bytes", "lots", "'lots' is not an integer"),
        ("--format", "i3dm", "invalid choice: 'i3dm'"),
        ("--compress", "zip", "invalid choice: 'zip'"),
    ],
)
def test_cli_refuses_bad_tiling_flags(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str,
    message: str,
) -> None:  # fmt: skip
    with pytest.raises(SystemExit) as info:
        main(["import", "--data-dir", str(tmp_path), flag, value, str(shared_data / TECO)])
    assert info.value.code == 2
    assert f"argument {flag}: {message}" in capsys.readouterr().err
