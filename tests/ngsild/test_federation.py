"""Federation: ``twin serve --context-broker`` mirrors a second ``twin serve`` (two processes)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from ngsild_api_data import demo_records, publish
from serve_process import free_port, serve, stop

from twin.store import SQLiteStore

DEVICE = "urn:ngsi-ld:Device:thermo1"


@pytest.fixture
def brokers(tmp_path: Path) -> Iterator[tuple[str, str, subprocess.Popen[bytes]]]:
    """Yield the external broker's URL, ours (mirroring it) and our process."""
    store = SQLiteStore(tmp_path / "ours")
    publish(store, demo_records())
    store.close()
    remote_port, our_port = free_port(), free_port()
    remote = serve(tmp_path / "remote", remote_port)
    remote_url = f"http://127.0.0.1:{remote_port}"
    ours = serve(tmp_path / "ours", our_port, "--context-broker", remote_url,
                  "--types", "Device")  # fmt: skip
    try:
        yield remote_url, f"http://127.0.0.1:{our_port}", ours
    finally:
        stop(ours)
        stop(remote)


def _until(check: Any, seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def _subscriptions(url: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = requests.get(f"{url}/ngsi-ld/v1/subscriptions", timeout=5).json()
    return found


def _device(temperature: float) -> dict[str, Any]:
    return {
        "id": DEVICE, "type": "Device",
        "temperature": {"type": "Property", "value": temperature},
        "controlledAsset": {"type": "Relationship", "object": "urn:ngsi-ld:Building:demo:B1"},
    }  # fmt: skip


def test_remote_writes_reach_our_join_and_live(
    brokers: tuple[str, str, subprocess.Popen[bytes]],
) -> None:
    remote, ours, _ = brokers
    assert _until(lambda: _subscriptions(remote)), "no subscription on the external broker"
    live = requests.get(f"{ours}/live?dataset=demo", stream=True, timeout=10)
    lines = live.iter_lines()
    assert next(lines).startswith(b"retry:")

    made = requests.post(f"{remote}/ngsi-ld/v1/entities", json=_device(21.5), timeout=5)
    assert made.status_code == 201
    joined = _until(lambda: "21.5" in requests.get(f"{ours}/api/joined/demo/B1", timeout=5).text)
    assert joined, requests.get(f"{ours}/api/joined/demo/B1", timeout=5).text

    patched = requests.patch(
        f"{remote}/ngsi-ld/v1/entities/{DEVICE}/attrs/temperature", json={"value": 23.0},
        timeout=5,
    )  # fmt: skip
    assert patched.status_code == 204
    events = []
    for line in lines:
        if line.startswith(b"data: {"):
            events.append(json.loads(line[6:]))
            if events[-1]["value"] == 23.0:
                break
    assert events[-1] == {**events[-1], "dataset": "demo", "id": "B1", "attribute": "temperature",
                          "value": 23.0}  # fmt: skip
    live.close()
    mirrored = requests.get(f"{ours}/ngsi-ld/v1/entities/{DEVICE}", timeout=5).json()
    assert mirrored["temperature"]["value"] == 23.0


def test_a_remote_unlink_pushes_that_the_values_are_gone(
    brokers: tuple[str, str, subprocess.Popen[bytes]],
) -> None:
    # as a local unlink does: the building's viewer must not keep showing the device's values
    remote, ours, _ = brokers
    assert _until(lambda: _subscriptions(remote))
    assert requests.post(f"{remote}/ngsi-ld/v1/entities", json=_device(21.5), timeout=5).ok
    joined = f"{ours}/api/joined/demo/B1"
    assert _until(lambda: "21.5" in requests.get(joined, timeout=5).text)
    live = requests.get(f"{ours}/live?dataset=demo", stream=True, timeout=10)
    lines = live.iter_lines()
    assert next(lines).startswith(b"retry:")
    unlink = {"controlledAsset": {"type": "Relationship", "object": "urn:ngsi-ld:Building:x:B9"}}
    patched = requests.patch(f"{remote}/ngsi-ld/v1/entities/{DEVICE}", json=unlink, timeout=5)
    assert patched.status_code == 204
    event = next(json.loads(line[6:]) for line in lines if line.startswith(b"data: {"))
    live.close()
    assert event == {**event, "id": "B1", "attribute": "temperature", "value": None}


def test_remote_delete_and_our_shutdown(
    brokers: tuple[str, str, subprocess.Popen[bytes]],
) -> None:
    remote, ours, ours_proc = brokers
    assert _until(lambda: _subscriptions(remote))
    requests.post(f"{remote}/ngsi-ld/v1/entities", json=_device(20.0), timeout=5)
    url = f"{ours}/ngsi-ld/v1/entities/{DEVICE}"
    assert _until(lambda: requests.get(url, timeout=5).status_code == 200)
    requests.delete(f"{remote}/ngsi-ld/v1/entities/{DEVICE}", timeout=5)
    assert _until(lambda: requests.get(url, timeout=5).status_code == 404)

    stop(ours_proc)
    assert _subscriptions(remote) == []


def test_a_restart_after_a_crash_replaces_the_stale_subscription(
    tmp_path: Path, brokers: tuple[str, str, subprocess.Popen[bytes]]
) -> None:
    # Killed, twin cannot delete its subscription; the broker kept notifying the old run's
    # secret URL (404) beside the new run's subscription.
    remote, ours, ours_proc = brokers
    assert _until(lambda: _subscriptions(remote))
    ours_proc.kill()
    ours_proc.wait()
    port = ours.rsplit(":", 1)[1]
    again = serve(tmp_path / "ours", int(port), "--context-broker", remote, "--types", "Device",
                  log=tmp_path / "again.log")  # fmt: skip
    try:
        time.sleep(1.0)  # (the new run's subscription goes in within its first round)
        subscribed = _until(lambda: len(_subscriptions(remote)) == 1 and _subscriptions(remote))
        assert subscribed, _subscriptions(remote)
        made = requests.post(f"{remote}/ngsi-ld/v1/entities", json=_device(19.0), timeout=5)
        assert made.status_code == 201
        url = f"{ours}/ngsi-ld/v1/entities/{DEVICE}"
        assert _until(lambda: requests.get(url, timeout=5).status_code == 200)
        (sub,) = _subscriptions(remote)
        assert sub["notification"]["status"] == "ok", sub["notification"]
    finally:
        stop(again)


def test_a_wrong_secret_is_404(brokers: tuple[str, str, subprocess.Popen[bytes]]) -> None:
    _, ours, _ = brokers
    answer = requests.post(f"{ours}/api/federation/notify/guess", json={}, timeout=5)
    assert answer.status_code == 404
