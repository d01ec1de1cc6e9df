"""A local stand-in for OSS in tests: moto's S3 server behind a middleware that makes it answer oss2.

No local OSS server exists, so oss2 talks to moto's WSGI app. The middleware fixes the four
differences measured in docs/tooling-notes.md: oss2 sends empty query parameters that moto
rejects; moto's listing XML carries the S3 namespace and lacks OSS's ``<Type>``; and a V4
``OSS4-HMAC-SHA256`` Authorization header makes moto look for a service named ``oss``. Signatures
are not checked: this proves request shapes and response parsing, not that OSS accepts them.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_V4_CREDENTIAL = re.compile(r"Credential=(?P<key_id>[^/,\s]+)/")
_V4_SIGNATURE = re.compile(r"Signature=(?P<signature>[0-9a-fA-F]+)")
_XMLNS = re.compile(rb'\sxmlns="[^"]*"')
_CONTENTS = re.compile(rb"<Contents>.*?</Contents>", re.DOTALL)


# Listing parameters oss2 always sends, empty when unused. Other empty parameters are sub-resources
# (``?delete``, ``?acl``) and must stay.
_LISTING_PARAMS = frozenset({"continuation-token", "start-after", "delimiter", "prefix", "marker"})


def drop_empty_query_params(query_string: str) -> str:
    """The query string without empty listing parameters (oss2 sends ``continuation-token=``)."""
    kept = []
    for param in query_string.split("&"):
        name, _, value = param.partition("=")
        if not param or (name in _LISTING_PARAMS and not value):
            continue
        kept.append(param)
    return "&".join(kept)


def plain_authorization(header: str) -> str:
    """A V1-shaped ``OSS key:signature`` header from a V4 ``OSS4-HMAC-SHA256`` one, which moto can route."""
    key_id = _V4_CREDENTIAL.search(header)
    signature = _V4_SIGNATURE.search(header)
    if not key_id or not signature:
        raise ValueError(f"not a V4 OSS Authorization header: {header[:40]!r}")
    return f"OSS {key_id['key_id']}:{signature['signature']}"


def oss_listing_xml(body: bytes) -> bytes:
    """moto's ListBucketResult made to read like OSS's: no namespace, a ``<Type>`` in every ``<Contents>``."""
    body = _XMLNS.sub(b"", body, count=1)

    def add_type(match: re.Match[bytes]) -> bytes:
        contents = match.group(0)
        if b"<Type>" in contents:
            return contents
        return contents.replace(b"</Contents>", b"<Type>Normal</Type></Contents>")

    return _CONTENTS.sub(add_type, body)


class OssCompatibilityMiddleware:
    """WSGI middleware in front of moto: rewrites oss2's requests and moto's listing answers."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ["QUERY_STRING"] = drop_empty_query_params(environ.get("QUERY_STRING", ""))
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        if authorization.startswith("OSS4-HMAC-SHA256"):
            environ["HTTP_AUTHORIZATION"] = plain_authorization(authorization)
        if environ.get("REQUEST_METHOD") != "GET":
            return self.app(environ, start_response)
        return self._rewrite_listing(environ, start_response)

    def _rewrite_listing(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
            captured.update(status=status, headers=headers, exc_info=exc_info)
            return lambda data: None  # moto's Flask app returns its body; it never calls write()

        chunks = self.app(environ, capture)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        headers: list[tuple[str, str]] = captured["headers"]
        if b"<ListBucketResult" in body[:300]:
            body = oss_listing_xml(body)
            headers = [(name, value) for name, value in headers if name.lower() != "content-length"]
            headers.append(("Content-Length", str(len(body))))
        start_response(captured["status"], headers, captured["exc_info"])
        return [body]


class QuietRequestHandler(MotoRequestHandler):
    """moto's request handler without a log line per request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago: bind to port 0, read the port, close."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class OssEmulator:
    """moto's S3 app with the OSS middleware, served by werkzeug on 127.0.0.1 in a background thread."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def app(self) -> WsgiApp:
        return OssCompatibilityMiddleware(DomainDispatcherApplication(create_backend_app))

    def start(self) -> OssEmulator:
        app = self.app()
        self._server = make_server(
            self.host, self.port, app, threaded=True, request_handler=QuietRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="oss-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> OssEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class MotoS3Server(OssEmulator):
    """moto's S3 app as it is (for boto3 over real HTTP), served the same way."""

    def app(self) -> WsgiApp:
        return DomainDispatcherApplication(create_backend_app)
