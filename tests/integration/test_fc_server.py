"""The custom-container adapter speaks Function Compute's event protocol on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from chargeback.runtime.fc_server import FcContext, load_handler, make_server

seen: list[tuple[bytes, FcContext]] = []


def echo(event: bytes, context: Any) -> str:
    seen.append((event, context))
    if b"boom" in event:
        raise RuntimeError("the job failed")
    return json.dumps({"ok": True})


@pytest.fixture
def server() -> Iterator[int]:
    httpd = make_server(echo, host="127.0.0.1", port=0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def post(port: int, path: str, body: bytes) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("POST", path, body=body, headers={
        "content-type": "application/octet-stream", "x-fc-request-id": "req-1",
        "x-fc-access-key-id": "STS.NTest", "x-fc-access-key-secret": "sts-secret",
        "x-fc-security-token": "CAIStoken", "x-fc-function-name": "chargeback-daily",
        "x-fc-region": "cn-hangzhou"})
    response = connection.getresponse()
    result = response.status, response.getheader("x-fc-status") or "", response.read()
    connection.close()
    return result


def test_invoke_passes_event_and_credentials(server: int) -> None:
    event = json.dumps({"triggerTime": "2026-06-02T02:30:00Z", "triggerName": "daily-timer",
                        "payload": '{"job":"daily"}'}).encode()
    assert post(server, "/invoke", event) == (200, "200", b'{"ok": true}')
    body, context = seen[-1]
    assert body == event
    assert context.request_id == "req-1"
    credentials = context.credentials
    assert (credentials.access_key_id, credentials.security_token) == ("STS.NTest", "CAIStoken")
    assert "sts-secret" not in repr(context)


def test_failure_is_reported_to_fc(server: int) -> None:
    status, fc_status, body = post(server, "/invoke", b"boom")
    assert (status, fc_status) == (404, "404")
    assert json.loads(body) == {"errorType": "RuntimeError", "errorMessage": "the job failed"}


def test_initialize_and_unknown_paths(server: int) -> None:
    assert post(server, "/initialize", b"")[:2] == (200, "200")
    assert post(server, "/other", b"")[0] == 404


def test_load_handler_resolves_the_function_handlers() -> None:
    from functions.daily.handler import handler

    assert load_handler("functions.daily.handler.handler") is handler
