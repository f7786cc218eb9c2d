"""A real ``twin import`` re-publishing a dataset beside a real ``twin serve``: every live PATCH
is answered (none 503), none is lost, and every read sees the old dataset or the new one whole."""

from __future__ import annotations

import http.client
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from serve_process import free_port, serve, stop
from synth import synth_city

ROOT = Path(__file__).resolve().parents[2]
ENTITY = "urn:ngsi-ld:Building:city:SYN_0000001"  # in both cities
BBOX = "-180,-90,180,90"


def _import(data_dir: Path, city: Path) -> list[str]:
    return [sys.executable, "-m", "twin.cli", "import", "--data-dir", str(data_dir),
            "--dataset", "city", "--workers", "1", str(city)]  # fmt: skip


def _request(conn: http.client.HTTPConnection, method: str, path: str, body: object = None) -> (
    tuple[int, bytes]
):  # fmt: skip
    text = None if body is None else json.dumps(body)
    conn.request(method, path, text, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    return resp.status, resp.read()


def _matched(conn: http.client.HTTPConnection, query: str) -> int:
    status, body = _request(conn, "GET", f"/ogc/collections/city/items?limit=1{query}")
    assert status == 200, body
    return int(json.loads(body)["numberMatched"])


def _publishing(db: sqlite3.Connection) -> bool:
    """Whether an import has written rows of a generation not yet served."""
    return db.execute("SELECT count(*) FROM generations WHERE staging != ''").fetchone()[0] > 0


def test_live_writes_and_reads_during_a_reimport(tmp_path: Path) -> None:
    old, new = tmp_path / "old.gml", tmp_path / "new.gml"
    synth_city().write_city(old, 150, seed=1)
    synth_city().write_city(new, 1500, seed=2)
    data_dir = tmp_path / "data"
    subprocess.run(_import(data_dir, old), check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    port = free_port()
    server = serve(data_dir, port)
    db = sqlite3.connect(data_dir / "twin.db")
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        before = _matched(conn, "")
        attrs = f"/ngsi-ld/v1/entities/{ENTITY}/attrs"
        assert _request(conn, "POST", attrs, {"occupancy": 0})[0] == 204
        importer = subprocess.Popen(_import(data_dir, new), cwd=ROOT, stdout=subprocess.DEVNULL)
        statuses: list[int] = []  # of the PATCHes sent while the import publishes
        matched: set[int] = set()
        sent = 0
        while importer.poll() is None:
            publishing = _publishing(db)
            sent += 1
            status, _ = _request(conn, "PATCH", attrs, {"occupancy": sent})
            matched.add(_matched(conn, f"&bbox={BBOX}"))
            if publishing:
                statuses.append(status)
        assert importer.returncode == 0
        after = _matched(conn, "")
        status, body = _request(conn, "GET", f"/ngsi-ld/v1/entities/{ENTITY}")
        conn.close()
    finally:
        db.close()
        stop(server)
    assert len(statuses) >= 20, statuses  # the loop ran through the publish
    assert set(statuses) == {204}
    assert json.loads(body)["occupancy"]["value"] == sent  # the last one written
    assert matched <= {before, after}, (matched, before, after)
    assert before != after
