"""Subscriptions: CRUD, validation, and HTTP notifications to a real local receiver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from ngsild_api_data import MakeClient
from pytest_aiohttp import AiohttpClient

from twin.ngsild.entity import parse_entity
from twin.ngsild.jsonld import CORE as CORE_CTX
from twin.ngsild.jsonld import ContextResolver
from twin.ngsild.subscriptions import parse_subscription
from twin.ngsild.subscriptions_match import EntityChange
from twin.server import create_app
from twin.server.ngsild.http import now_iso
from twin.server.ngsild.notify import NOTIFIER, Notifier
from twin.store import SQLiteStore

API = "/ngsi-ld/v1"
ERR = "https://uri.etsi.org/ngsi-ld/errors/"
DEV = "urn:ngsi-ld:Device:d1"
SUB = "urn:ngsi-ld:Subscription:s1"
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"


@dataclass
class Receiver:
    """A real aiohttp app on a free port that records the notifications it gets."""

    url: str
    received: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    status: int = 200

    def bodies(self) -> list[Any]:
        return [body for _, body in self.received]


@pytest.fixture
async def receiver(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> Receiver:
    holder: list[Receiver] = []

    async def notify(request: web.Request) -> web.Response:
        holder[0].received.append((dict(request.headers), await request.json()))
        return web.Response(status=holder[0].status)

    app = web.Application()
    app.router.add_post("/notify", notify)
    server = await aiohttp_server(app)
    holder.append(Receiver(str(server.make_url("/notify"))))
    return holder[0]


def subscription(receiver: Receiver, **members: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": SUB,
        "type": "Subscription",
        "entities": [{"type": "Device"}],
        "watchedAttributes": ["temperature"],
        "q": "temperature>25",
        "notification": {
            "attributes": ["temperature"],
            "format": "keyValues",
            "endpoint": {"uri": receiver.url, "accept": "application/json"},
        },
    }
    body.update(members)
    return body


async def create_device(client: TestClient, **attrs: Any) -> None:
    body = {"id": DEV, "type": "Device", "temperature": {"type": "Property", "value": 20},
            "humidity": {"type": "Property", "value": 40}, **attrs}  # fmt: skip
    resp = await client.post(f"{API}/entities", json=body)
    assert resp.status == 201, await resp.text()


async def subscribe(client: TestClient, body: dict[str, Any]) -> None:
    resp = await client.post(f"{API}/subscriptions", json=body)
    assert resp.status == 201, await resp.text()


async def patch(client: TestClient, **attrs: Any) -> None:
    resp = await client.patch(f"{API}/entities/{DEV}/attrs", json=attrs)
    assert resp.status == 204, await resp.text()


async def drain(client: TestClient) -> None:
    await asyncio.wait_for(client.server.app[NOTIFIER].drain(), 10)


async def get_sub(client: TestClient, sub_id: str = SUB) -> Any:
    resp = await client.get(f"{API}/subscriptions/{sub_id}")
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_create_answers_201_with_location(client: TestClient, receiver: Receiver) -> None:
    resp = await client.post(f"{API}/subscriptions", json=subscription(receiver))
    assert resp.status == 201
    assert resp.headers["Location"] == f"/ngsi-ld/v1/subscriptions/{SUB}"
    body = await get_sub(client)
    assert body == {
        "id": SUB, "type": "Subscription", "entities": [{"type": "Device"}],
        "watchedAttributes": ["temperature"], "q": "temperature>25",
        "notificationTrigger": ["attributeCreated", "attributeUpdated"], "isActive": True,
        "status": "active",
        "notification": {"format": "keyValues", "attributes": ["temperature"],
                         "endpoint": {"uri": receiver.url, "accept": "application/json"}},
    }  # fmt: skip


async def test_generated_id_and_list_with_count(client: TestClient, receiver: Receiver) -> None:
    body = subscription(receiver)
    del body["id"]
    resp = await client.post(f"{API}/subscriptions", json=body)
    assert resp.status == 201
    location = resp.headers["Location"]
    assert location.startswith("/ngsi-ld/v1/subscriptions/urn:ngsi-ld:Subscription:")
    await subscribe(client, subscription(receiver))
    resp = await client.get(f"{API}/subscriptions?count=true&limit=1")
    assert resp.status == 200
    assert resp.headers["NGSILD-Results-Count"] == "2"
    assert [s["id"] for s in await resp.json()] == [location.rsplit("/", 1)[1]]


async def test_matching_patch_sends_exactly_one_notification(
    client: TestClient, receiver: Receiver
) -> None:
    await create_device(client)
    await subscribe(client, subscription(receiver))
    await patch(client, temperature={"type": "Property", "value": 30})
    await drain(client)
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    assert headers["Content-Type"] == "application/json"
    assert headers["Link"] == (
        f'<{CORE}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    )
    assert body["type"] == "Notification"
    assert body["id"].startswith("urn:ngsi-ld:Notification:")
    assert body["subscriptionId"] == SUB
    assert body["notifiedAt"].endswith("Z")
    assert body["data"] == [{"id": DEV, "type": "Device", "temperature": 30}]


@pytest.mark.parametrize(
    "change",
    [
        {"temperature": {"type": "Property", "value": 24}},  # q is false
        {"humidity": {"type": "Property", "value": 80}},  # not a watched attribute
    ],
    ids=["q-false", "unwatched"],
)
async def test_non_matching_patch_sends_nothing(
    client: TestClient, receiver: Receiver, change: dict[str, Any]
) -> None:
    await create_device(client)
    await subscribe(client, subscription(receiver))
    await patch(client, **change)
    await drain(client)
    assert receiver.received == []


async def test_other_entity_type_sends_nothing(client: TestClient, receiver: Receiver) -> None:
    await subscribe(client, subscription(receiver, entities=[{"type": "Sensor"}]))
    await create_device(client, temperature={"type": "Property", "value": 40})
    await drain(client)
    assert receiver.received == []


@pytest.mark.parametrize(
    ("scope", "notified"),
    [("/Munich/North", True), ("/Munich", True), ("/Berlin/Mitte", False), (None, False)],
    ids=["below", "itself", "elsewhere", "no-scope"],
)
async def test_scope_q_selects_by_the_entity_scope(
    client: TestClient, receiver: Receiver, scope: str | None, notified: bool
) -> None:
    await subscribe(client, subscription(receiver, scopeQ="/Munich/#"))
    assert (await get_sub(client))["scopeQ"] == "/Munich/#"
    await create_device(client, **({} if scope is None else {"scope": scope}))
    await patch(client, temperature={"type": "Property", "value": 30})
    await drain(client)
    assert len(receiver.received) == int(notified)


async def test_patching_scope_q_changes_what_notifies(
    client: TestClient, receiver: Receiver
) -> None:
    await create_device(client, scope="/Munich/North")
    await subscribe(client, subscription(receiver, scopeQ="/Berlin/#"))
    await patch(client, temperature={"type": "Property", "value": 30})
    resp = await client.patch(f"{API}/subscriptions/{SUB}", json={"scopeQ": "/+/North"})
    assert resp.status == 204, await resp.text()
    await patch(client, temperature={"type": "Property", "value": 31})
    await drain(client)
    assert [b["data"][0]["temperature"] for b in receiver.bodies()] == [31]


async def test_throttling_keeps_the_second_notification(
    client: TestClient, receiver: Receiver
) -> None:
    await create_device(client)
    await subscribe(client, subscription(receiver, throttling=60))
    await patch(client, temperature={"type": "Property", "value": 30})
    await patch(client, temperature={"type": "Property", "value": 31})
    await drain(client)
    assert [b["data"] for b in receiver.bodies()] == [
        [{"id": DEV, "type": "Device", "temperature": 30}]
    ]


async def test_counters_after_success_and_failure(client: TestClient, receiver: Receiver) -> None:
    await create_device(client)
    await subscribe(client, subscription(receiver))
    await patch(client, temperature={"type": "Property", "value": 30})
    await drain(client)
    receiver.status = 500
    await patch(client, temperature={"type": "Property", "value": 31})
    await drain(client)
    notification = (await get_sub(client))["notification"]
    assert notification["timesSent"] == 2
    assert notification["timesFailed"] == 1
    assert notification["status"] == "failed"
    assert notification["lastSuccess"] == receiver.bodies()[0]["notifiedAt"]
    assert notification["lastFailure"] == receiver.bodies()[1]["notifiedAt"]
    assert notification["lastNotification"] == notification["lastFailure"]


async def test_a_notification_that_fails_unexpectedly_counts_as_failed(
    client: TestClient, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fault injection: no input is known to break the rendering of a notification (a
    # receiverInfo that could not be a header did, until it was refused), so it is made to.
    await create_device(client)
    await subscribe(client, subscription(receiver))

    def broken(*args: object) -> object:
        raise ValueError("rendering failed")

    monkeypatch.setattr("twin.server.ngsild.notify.notification_data", broken)
    await patch(client, temperature={"type": "Property", "value": 30})
    await drain(client)
    notification = (await get_sub(client))["notification"]
    assert receiver.bodies() == []
    assert (notification["timesSent"], notification["timesFailed"]) == (1, 1)
    assert notification["status"] == "failed"


async def test_expired_subscription_sends_nothing(
    store: SQLiteStore, tmp_path: Path, aiohttp_client: AiohttpClient, receiver: Receiver
) -> None:
    body = subscription(receiver, expiresAt="2020-01-01T00:00:00Z")
    body.update(
        {
            "notificationTrigger": ["attributeUpdated"],
            "isActive": True,
            "createdAt": "2019-01-01T00:00:00Z",
            "modifiedAt": "2019-01-01T00:00:00Z",
        }
    )
    body["notification"]["endpoint"] = {"uri": receiver.url, "accept": "application/json"}
    store.entities.subscriptions.create("", body)  # fmt: skip
    client = await aiohttp_client(create_app(store, viewer_dir=tmp_path / "no-viewer"))
    await create_device(client)
    await patch(client, temperature={"type": "Property", "value": 30})
    await drain(client)
    assert receiver.received == []
    assert (await get_sub(client))["status"] == "expired"


async def test_paused_subscription_sends_nothing(client: TestClient, receiver: Receiver) -> None:
    await create_device(client)
    await subscribe(client, subscription(receiver))
    resp = await client.patch(f"{API}/subscriptions/{SUB}", json={"isActive": False})
    assert resp.status == 204
    await patch(client, temperature={"type": "Property", "value": 30})
    await drain(client)
    assert receiver.received == []
    assert (await get_sub(client))["status"] == "paused"


async def test_subscriptions_and_counters_survive_a_restart(
    make_client: MakeClient,
    data_dir: Path,
    tmp_path: Path,
    aiohttp_client: AiohttpClient,
    receiver: Receiver,
) -> None:
    client = await make_client()
    await create_device(client)
    await subscribe(client, subscription(receiver))
    await patch(client, temperature={"type": "Property", "value": 30})
    await drain(client)
    await client.close()
    again = await aiohttp_client(create_app(SQLiteStore(data_dir), viewer_dir=tmp_path / "nv"))
    body = await get_sub(again)
    assert body["notification"]["timesSent"] == 1
    assert body["q"] == "temperature>25"


@pytest.mark.parametrize(
    ("triggers", "action", "expected"),
    [
        (["entityCreated"], "create", "entityCreated"),
        (["entityDeleted"], "delete", "entityDeleted"),
        (["attributeDeleted"], "delete-attr", "attributeDeleted"),
        (["attributeCreated"], "append", "attributeCreated"),
        (["entityUpdated"], "append", "attributeCreated"),
        # the attributes a replacement keeps were updated, not created
        (["attributeUpdated"], "replace", "attributeUpdated"),
        (["attributeUpdated"], "upsert", "attributeUpdated"),
    ],
)
async def test_notification_triggers(
    client: TestClient, receiver: Receiver, triggers: list[str], action: str, expected: str
) -> None:
    sub = subscription(receiver, notificationTrigger=triggers)
    del sub["q"], sub["watchedAttributes"]
    del sub["notification"]["attributes"]
    if action != "create":
        await create_device(client)
    await subscribe(client, sub)
    if action == "create":
        await create_device(client)
    elif action == "delete":
        assert (await client.delete(f"{API}/entities/{DEV}")).status == 204
    elif action == "delete-attr":
        assert (await client.delete(f"{API}/entities/{DEV}/attrs/humidity")).status == 204
    elif action in ("replace", "upsert"):
        body = {"id": DEV, "type": "Device", "temperature": 21, "humidity": 41}
        resp = await (
            client.put(f"{API}/entities/{DEV}", json=body)
            if action == "replace"
            else client.post(f"{API}/entityOperations/upsert", json=[body])
        )
        assert resp.status == 204, await resp.text()
    else:
        resp = await client.post(f"{API}/entities/{DEV}/attrs", json={"co2": 400})
        assert resp.status == 204
    await drain(client)
    assert [b["triggerReason"] for b in receiver.bodies()] == [expected]


async def test_deleted_entity_is_notified_with_deleted_at(
    client: TestClient, receiver: Receiver
) -> None:
    await create_device(client)
    sub = subscription(receiver, notificationTrigger=["entityDeleted"])
    del sub["q"]
    await subscribe(client, sub)
    assert (await client.delete(f"{API}/entities/{DEV}")).status == 204
    await drain(client)
    (data,) = receiver.bodies()[0]["data"]
    assert data["id"] == DEV
    assert data["type"] == "Device"
    assert data["deletedAt"] == receiver.bodies()[0]["notifiedAt"]


async def test_a_json_endpoint_gets_names_its_link_header_expands(
    client: TestClient, receiver: Receiver
) -> None:
    # The subscription's @context is inline: no URL can stand for it in a Link header, so the
    # notification must not use its short names (they would expand wrongly with the core one).
    context = [{"temperature": "https://example.org/myTemperature"}, CORE]
    ld = {"Content-Type": "application/ld+json"}
    sub = subscription(receiver, q=None, watchedAttributes=None, **{"@context": context})
    del sub["notification"]["attributes"]
    resp = await client.post(f"{API}/subscriptions", json=sub, headers=ld)
    assert resp.status == 201, await resp.text()
    entity = {"id": DEV, "type": "Device", "temperature": 20, "@context": context}
    assert (await client.post(f"{API}/entities", json=entity, headers=ld)).status == 201
    await drain(client)
    ((headers, body),) = receiver.received
    assert headers["Link"].startswith(f"<{CORE}>")
    assert body["data"] == [{"id": DEV, "type": "Device",
                             "https://example.org/myTemperature": 20}]  # fmt: skip


async def test_ld_json_endpoint_gets_context_and_tenant(
    client: TestClient, receiver: Receiver
) -> None:
    headers = {"NGSILD-Tenant": "t1"}
    sub = subscription(receiver)
    sub["notification"]["endpoint"]["accept"] = "application/ld+json"
    sub["notification"]["format"] = "normalized"
    resp = await client.post(f"{API}/subscriptions", json=sub, headers=headers)
    assert resp.status == 201
    body = {"id": DEV, "type": "Device", "temperature": {"type": "Property", "value": 40}}
    assert (await client.post(f"{API}/entities", json=body, headers=headers)).status == 201
    await drain(client)
    got_headers, notification = receiver.received[0]
    assert got_headers["Content-Type"] == "application/ld+json"
    assert got_headers["NGSILD-Tenant"] == "t1"
    assert notification["@context"] == CORE
    assert notification["data"] == [
        {"id": DEV, "type": "Device", "temperature": {"type": "Property", "value": 40}}
    ]
    assert (await client.get(f"{API}/subscriptions/{SUB}")).status == 404


async def test_delete_and_patch_unknown(client: TestClient, receiver: Receiver) -> None:
    await subscribe(client, subscription(receiver))
    assert (await client.delete(f"{API}/subscriptions/{SUB}")).status == 204
    for resp in (
        await client.delete(f"{API}/subscriptions/{SUB}"),
        await client.patch(f"{API}/subscriptions/{SUB}", json={"q": "a>1"}),
        await client.get(f"{API}/subscriptions/{SUB}"),
    ):
        assert resp.status == 404
        assert (await resp.json())["type"] == ERR + "ResourceNotFound"


async def test_create_twice_is_already_exists(client: TestClient, receiver: Receiver) -> None:
    await subscribe(client, subscription(receiver))
    resp = await client.post(f"{API}/subscriptions", json=subscription(receiver))
    assert resp.status == 409
    assert (await resp.json())["type"] == ERR + "AlreadyExists"


@pytest.mark.parametrize(
    ("q", "stored"),
    [
        ("temperature%3E25%3Bname%3D%3D%22a%20b%22", 'temperature>25;name=="a b"'),
        ('name=="50%25"', 'name=="50%25"'),  # valid as written: kept so
    ],
)
async def test_a_url_encoded_q_is_decoded_only_when_it_does_not_parse(
    client: TestClient, receiver: Receiver, q: str, stored: str
) -> None:
    await subscribe(client, subscription(receiver, q=q))
    assert (await get_sub(client))["q"] == stored


async def test_patch_changes_q_and_keeps_counters(client: TestClient, receiver: Receiver) -> None:
    await create_device(client)
    await subscribe(client, subscription(receiver))
    await patch(client, temperature={"type": "Property", "value": 30})
    await drain(client)
    resp = await client.patch(f"{API}/subscriptions/{SUB}", json={"q": "temperature>35"})
    assert resp.status == 204
    await patch(client, temperature={"type": "Property", "value": 31})
    await drain(client)
    body = await get_sub(client)
    assert body["q"] == "temperature>35"
    assert body["notification"]["timesSent"] == 1
    assert len(receiver.received) == 1


def _without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


BAD: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]], int, str]] = [
    ("no-notification", lambda b: _without(b, "notification"), 400, "BadRequestData"),
    ("no-entities-no-watched", lambda b: _without(b, "entities", "watchedAttributes"), 400,
     "BadRequestData"),
    ("bad-type", lambda b: {**b, "type": "Sub"}, 400, "BadRequestData"),
    ("bad-id", lambda b: {**b, "id": "s1"}, 400, "BadRequestData"),
    ("bad-q", lambda b: {**b, "q": "temperature>>"}, 400, "BadRequestData"),
    ("bad-geoq", lambda b: {**b, "geoQ": {"georel": "near", "geometry": "Point",
                                          "coordinates": [1, 2]}}, 400, "BadRequestData"),
    ("selector-without-type", lambda b: {**b, "entities": [{"id": DEV}]}, 400, "BadRequestData"),
    ("empty-watched", lambda b: {**b, "watchedAttributes": []}, 400, "BadRequestData"),
    ("bad-trigger", lambda b: {**b, "notificationTrigger": ["whenever"]}, 400, "BadRequestData"),
    ("zero-throttling", lambda b: {**b, "throttling": 0}, 400, "BadRequestData"),
    ("past-expiry", lambda b: {**b, "expiresAt": "2001-01-01T00:00:00Z"}, 400, "BadRequestData"),
    ("bad-expiry", lambda b: {**b, "expiresAt": "tomorrow"}, 400, "BadRequestData"),
    ("bad-format", lambda b: {**b, "notification": {**b["notification"], "format": "x"}}, 400,
     "BadRequestData"),
    ("bad-accept", lambda b: {**b, "notification": {**b["notification"], "endpoint": {
        "uri": "http://x/", "accept": "text/plain"}}}, 400, "BadRequestData"),
    ("unknown-member", lambda b: {**b, "colour": "red"}, 400, "BadRequestData"),
    ("mqtt-endpoint", lambda b: {**b, "notification": {**b["notification"], "endpoint": {
        "uri": "mqtt://broker/topic"}}}, 422, "OperationNotSupported"),
    ("interval-and-watched", lambda b: {**b, "timeInterval": 60}, 400, "BadRequestData"),
    ("interval-and-throttling", lambda b: {**_without(b, "watchedAttributes"),
     "timeInterval": 60, "throttling": 5}, 400, "BadRequestData"),
    ("interval-without-entities", lambda b: {**_without(b, "watchedAttributes", "entities"),
     "timeInterval": 60}, 400, "BadRequestData"),
    ("zero-interval", lambda b: {**_without(b, "watchedAttributes"), "timeInterval": 0}, 400,
     "BadRequestData"),
    ("bad-scope-q", lambda b: {**b, "scopeQ": "Munich/#"}, 400, "BadRequestData"),
    ("empty-scope-q", lambda b: {**b, "scopeQ": ""}, 400, "BadRequestData"),
    ("number-scope-q", lambda b: {**b, "scopeQ": 3}, 400, "BadRequestData"),
    ("show-changes-key-values", lambda b: {**b, "notification": {**b["notification"],
     "showChanges": True}}, 400, "BadRequestData"),
    ("bad-lang", lambda b: {**b, "lang": "en;q=x"}, 400, "BadRequestData"),
    ("number-lang", lambda b: {**b, "lang": 3}, 400, "BadRequestData"),
    ("temporal-q", lambda b: {**b, "temporalQ": {"timerel": "after"}}, 422,
     "OperationNotSupported"),
    # receiverInfo are sent as HTTP headers: names and values that cannot be one are refused
    ("receiver-info-newline", lambda b: _receiver_info(b, "X-A", "v\r\nX-Injected: 1"), 400,
     "BadRequestData"),
    ("receiver-info-bad-name", lambda b: _receiver_info(b, "X A:", "v"), 400, "BadRequestData"),
]  # fmt: skip


def _receiver_info(body: dict[str, Any], key: str, value: str) -> dict[str, Any]:
    endpoint = {**body["notification"]["endpoint"], "receiverInfo": [{"key": key, "value": value}]}
    return {**body, "notification": {**body["notification"], "endpoint": endpoint}}


@pytest.mark.parametrize(("name", "mutate", "status", "ptype"), BAD, ids=[b[0] for b in BAD])
async def test_invalid_subscriptions(
    client: TestClient,
    receiver: Receiver,
    name: str,
    mutate: Callable[[dict[str, Any]], dict[str, Any]],
    status: int,
    ptype: str,
) -> None:
    resp = await client.post(f"{API}/subscriptions", json=mutate(subscription(receiver)))
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/json"
    assert (await resp.json())["type"] == ERR + ptype


async def test_invalid_patch_is_bad_request_data(client: TestClient, receiver: Receiver) -> None:
    await subscribe(client, subscription(receiver))
    resp = await client.patch(f"{API}/subscriptions/{SUB}", json={"throttling": -1})
    assert resp.status == 400
    assert (await resp.json())["type"] == ERR + "BadRequestData"
    assert "throttling" not in await get_sub(client)


async def test_writes_need_a_token(make_client: MakeClient, receiver: Receiver) -> None:
    client = await make_client(tokens=("secret",))
    resp = await client.post(f"{API}/subscriptions", json=subscription(receiver))
    assert resp.status == 401
    resp = await client.post(
        f"{API}/subscriptions",
        json=subscription(receiver),
        headers={"Authorization": "Bearer secret"},
    )
    assert resp.status == 201


@dataclass
class Stalled:
    """A receiver that answers only once ``release`` is set (or the test ends)."""

    url: str
    release: asyncio.Event
    values: list[int] = field(default_factory=list)
    """The temperature of each notification it got."""


@pytest.fixture
async def stalled(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> AsyncIterator[Stalled]:
    release = asyncio.Event()
    holder: list[Stalled] = []

    async def stall(request: web.Request) -> web.Response:
        holder[0].values.append((await request.json())["data"][0]["temperature"])
        await release.wait()
        return web.Response()

    app = web.Application()
    app.router.add_post("/stall", stall)
    server = await aiohttp_server(app)
    holder.append(Stalled(str(server.make_url("/stall")), release))
    yield holder[0]
    release.set()


async def until(condition: Callable[[], bool]) -> None:
    """Wait up to 2 s for ``condition`` (the notifications are sent in the background)."""
    for _ in range(100):
        if condition():
            return
        await asyncio.sleep(0.02)


async def subscribe_stalled(client: TestClient, receiver: Receiver, stalled: Stalled) -> str:
    body = subscription(receiver, id="urn:ngsi-ld:Subscription:slow", q=None)
    body["notification"]["endpoint"]["uri"] = stalled.url
    await subscribe(client, body)
    return str(body["id"])


async def test_a_stalled_receiver_does_not_hold_back_other_subscriptions(
    client: TestClient, receiver: Receiver, stalled: Stalled
) -> None:
    # Every notification sent to the stalled receiver waits for the notifier's timeout; the
    # other subscription must be notified meanwhile. More notifications than the notifier has
    # workers: the stalled subscription holds 4 of them.
    await create_device(client)
    await subscribe(client, subscription(receiver, q=None))
    await subscribe_stalled(client, receiver, stalled)
    values = list(range(30, 50))
    for value in values:
        await patch(client, temperature={"type": "Property", "value": value})
    await until(lambda: len(receiver.received) == len(values))
    assert sorted(b["data"][0]["temperature"] for b in receiver.bodies()) == values
    assert sorted(stalled.values) == values[:4]  # sent in write order, 4 at most at a time


async def test_a_deleted_subscription_sends_none_of_its_waiting_notifications(
    client: TestClient, receiver: Receiver, stalled: Stalled
) -> None:
    await create_device(client)
    sub_id = await subscribe_stalled(client, receiver, stalled)
    for value in range(30, 36):
        await patch(client, temperature={"type": "Property", "value": value})
    await until(lambda: len(stalled.values) == 4)  # being sent; 34 and 35 wait
    assert (await client.delete(f"{API}/subscriptions/{sub_id}")).status == 204
    stalled.release.set()
    await drain(client)
    assert sorted(stalled.values) == [30, 31, 32, 33]


async def test_a_notification_sent_across_a_patch_of_its_subscription_is_counted(
    client: TestClient, receiver: Receiver, stalled: Stalled
) -> None:
    await create_device(client)
    sub_id = await subscribe_stalled(client, receiver, stalled)
    await patch(client, temperature={"type": "Property", "value": 30})
    await until(lambda: stalled.values == [30])
    resp = await client.patch(f"{API}/subscriptions/{sub_id}", json={"description": "d"})
    assert resp.status == 204
    stalled.release.set()
    await drain(client)
    notification = (await get_sub(client, sub_id))["notification"]
    assert (notification["timesSent"], notification["status"]) == (1, "ok")


@pytest.mark.parametrize(
    ("backlog", "queue_size", "failed"),
    [(2, 8, [1, 1]), (8, 3, [1, 2])],
    ids=["one-subscription-full", "all-full"],
)
async def test_notifications_beyond_the_backlogs_fail(
    store: SQLiteStore, receiver: Receiver, backlog: int, queue_size: int, failed: list[int]
) -> None:
    # No worker runs: every notification stays in its subscription's backlog; 3 changes
    # notify 2 subscriptions (a first, then b).
    notifier = Notifier(store.entities, ContextResolver(), backlog=backlog, queue_size=queue_size)
    for name in ("a", "b"):
        body = subscription(receiver, id=f"urn:ngsi-ld:Subscription:{name}", q=None)
        await notifier.put("", parse_subscription(body, CORE_CTX, None, now_iso(), "unused"))
    doc = {"id": DEV, "type": "Device", "temperature": {"type": "Property", "value": 1}}
    entity = parse_entity(doc, CORE_CTX, now_iso())
    temperature = frozenset(entity["attrs"])
    for _ in range(3):
        notifier.entity_changed("", EntityChange("updated", entity, updated=temperature))
    counters = [s["notification"] for s in notifier.list("")]
    assert [n.get("timesFailed") for n in counters] == failed
    assert [n.get("timesSent") for n in counters] == failed  # (only failures counted yet)


def watching(receiver: Receiver, name: str, **notification: Any) -> dict[str, Any]:
    """Return a subscription to changes of ``name`` of any Device, notifying only ``name``."""
    sub = subscription(receiver, watchedAttributes=[name])
    del sub["q"]
    sub["notification"].update(attributes=[name], **notification)
    return sub


OWNER_A, OWNER_B = "urn:ngsi-ld:Person:a", "urn:ngsi-ld:Person:b"


@pytest.mark.parametrize(
    ("name", "old", "new", "previous"),
    [
        ("temperature", {"type": "Property", "value": 20}, {"type": "Property", "value": 30},
         {"previousValue": 20}),
        ("owner", {"type": "Relationship", "object": OWNER_A},
         {"type": "Relationship", "object": OWNER_B}, {"previousObject": OWNER_A}),
        ("label", {"type": "LanguageProperty", "languageMap": {"en": "hall"}},
         {"type": "LanguageProperty", "languageMap": {"en": "Hall", "de": "Halle"}},
         {"previousLanguageMap": {"en": "hall"}}),
    ],
    ids=["property", "relationship", "language-property"],
)  # fmt: skip
@pytest.mark.parametrize("show_changes", [True, False], ids=["show", "hide"])
async def test_show_changes_carries_the_previous_value(
    client: TestClient,
    receiver: Receiver,
    name: str,
    old: dict[str, Any],
    new: dict[str, Any],
    previous: dict[str, Any],
    show_changes: bool,
) -> None:
    # CIM 009 v1.8 §5.2.14 (NotificationParams.showChanges)
    await create_device(client, **{name: old})
    await subscribe(client, watching(receiver, name, format="normalized", showChanges=show_changes))
    await patch(client, **{name: new})
    await drain(client)
    [body] = receiver.bodies()
    assert body["data"] == [
        {"id": DEV, "type": "Device", name: {**new, **(previous if show_changes else {})}}
    ]


async def test_show_changes_gives_no_previous_value_to_a_created_attribute(
    client: TestClient, receiver: Receiver
) -> None:
    await create_device(client)
    await subscribe(client, watching(receiver, "co2", format="normalized", showChanges=True))
    resp = await client.post(f"{API}/entities/{DEV}/attrs", json={"co2": 400})
    assert resp.status == 204, await resp.text()
    await drain(client)
    [body] = receiver.bodies()
    assert body["data"] == [
        {"id": DEV, "type": "Device", "co2": {"type": "Property", "value": 400}}
    ]


LABEL = {"type": "LanguageProperty", "languageMap": {"en": "Hall", "de": "Halle"}}


@pytest.mark.parametrize(
    ("form", "expected"),
    [("normalized", {"type": "Property", "value": "Halle", "lang": "de"}),
     ("concise", {"value": "Halle", "lang": "de"}),
     ("keyValues", "Halle")],
)  # fmt: skip
async def test_lang_picks_the_language_of_notified_language_properties(
    client: TestClient, receiver: Receiver, form: str, expected: Any
) -> None:
    # CIM 009 v1.8 §5.2.12 (Subscription.lang), applied as the lang parameter (§4.15)
    await create_device(client, label={**LABEL, "languageMap": {"en": "hall"}})
    await subscribe(client, {**watching(receiver, "label", format=form), "lang": "fr,de;q=0.8"})
    assert (await get_sub(client))["lang"] == "fr,de;q=0.8"
    await patch(client, label=LABEL)
    await drain(client)
    [body] = receiver.bodies()
    assert body["data"] == [{"id": DEV, "type": "Device", "label": expected}]


async def test_lang_can_be_patched_onto_a_subscription(
    client: TestClient, receiver: Receiver
) -> None:
    await create_device(client, label={**LABEL, "languageMap": {"en": "hall"}})
    await subscribe(client, watching(receiver, "label", format="keyValues"))
    resp = await client.patch(f"{API}/subscriptions/{SUB}", json={"lang": "en"})
    assert resp.status == 204, await resp.text()
    await patch(client, label=LABEL)
    await drain(client)
    [body] = receiver.bodies()
    assert body["data"] == [{"id": DEV, "type": "Device", "label": "Hall"}]
