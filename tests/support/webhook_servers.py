"""Real HTTP servers on 127.0.0.1 for the webhook tests: scripted answers, DingTalk signature checks, and a
server that accepts connections but never answers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Received:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Recorder:
    """Answers requests from ``answers`` in order (the last one repeats) and keeps every request."""

    answers: list[tuple[int, bytes]]
    requests: list[Received] = field(default_factory=list)
    decide: Callable[[Received], tuple[int, bytes]] | None = None

    def answer(self, request: Received) -> tuple[int, bytes]:
        self.requests.append(request)
        if self.decide is not None:
            return self.decide(request)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on 127.0.0.1 (a free port) in a thread; yields the base URL; stops the server after."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that keeps the test output clean."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def http_server(recorder: Recorder) -> Iterator[str]:
    """Serve ``recorder`` on 127.0.0.1 (a free port); yields the base URL; stops the server afterwards."""

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            parts = urlsplit(self.path)
            request = Received(parts.path, parse_qs(parts.query), dict(self.headers), json.loads(raw))
            self.answer(*recorder.answer(request))

    with serve(Handler) as base:
        yield base


@contextmanager
def silent_server() -> Iterator[str]:
    """A listening socket that never accepts: connections succeed, no answer ever comes."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def dingtalk_checker(secret: str, now_ms: int) -> Callable[[Received], tuple[int, bytes]]:
    """DingTalk's server side: the robot's signature must match and the timestamp be within an hour."""

    def decide(request: Received) -> tuple[int, bytes]:
        timestamp = request.query.get("timestamp", [""])[0]
        sign = request.query.get("sign", [""])[0]
        expected = base64.b64encode(hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(),
                                             hashlib.sha256).digest()).decode()
        fresh = timestamp.isdigit() and abs(int(timestamp) - now_ms) < 3_600_000
        if request.query.get("access_token") != ["robot-token"] or not fresh or not hmac.compare_digest(
                sign, expected):
            return 200, json.dumps({"errcode": 310000, "errmsg": "sign not match"}).encode()
        return 200, json.dumps({"errcode": 0, "errmsg": "ok"}).encode()

    return decide


@contextmanager
def echo_server(requests: list[str] | None = None) -> Iterator[str]:
    """A server whose error answers repeat the request (line, headers, body), as many real ones do.

    DingTalk's path (``/robot/...``) gets DingTalk's shape, HTTP 200 with an errcode and the request in
    ``errmsg``; every other path HTTP 400 with the request as the body. ``requests`` collects what was sent.
    """

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            echoed = "\n".join([self.requestline, *(f"{k}: {v}" for k, v in self.headers.items()),
                                raw.decode("utf-8", "replace")])
            if requests is not None:
                requests.append(echoed)
            if self.path.startswith("/robot"):
                self.answer(200, json.dumps({"errcode": 310000, "errmsg": f"sign not match: {echoed}"}).encode())
            else:
                self.answer(400, f"bad request: {echoed}".encode(), "text/plain")

    with serve(Handler) as base:
        yield base
