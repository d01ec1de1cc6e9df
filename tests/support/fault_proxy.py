"""A fault-injecting HTTP proxy on 127.0.0.1, in front of the moto server (S3) or the OSS emulator (oss2).

Clients use ``FaultProxy.endpoint`` as their endpoint; the proxy forwards each request to ``upstream`` and
relays the answer, unless a rule matches the request. Rules are added with ``inject(fault, times, match)``;
the first matching rule with uses left applies. The faults a storage client meets in the field:

- ``Fault.error(503)``: an S3/OSS-shaped XML error answer, the request never reaches the server;
- ``Fault.drop()``: the connection is closed without an answer, the request never reaches the server;
- ``Fault.lose_answer()``: the request is applied by the server, then the connection is closed unanswered;
- ``Fault.truncate(0.5)``: the answer is cut after half its body (after half its headers when it has no body),
  with its Content-Length unchanged, and the connection closed;
- ``Fault.trickle(interval, size)``: the whole answer, headers first, ``size`` bytes every ``interval`` s;
- ``Fault.echo(403)``: an XML error answer echoing the request (line and headers, signature and security
  token included) in its ``Message`` and ``StringToSign``, as OSS's and S3's SignatureDoesNotMatch do;
- ``outage(seconds)``: the listening socket is closed (connections are refused and open ones reset) and
  reopened on the same port after ``seconds``.

``log`` records every request with what was done to it. Test support only.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from tests.support.oss_emulator import free_port

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
                         "upgrade", "content-length"})
ERROR_BODY = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ServiceUnavailable</Code>'
              b"<Message>Please reduce your request rate. (injected by the fault proxy)</Message>"
              b"<RequestId>FAULT-PROXY</RequestId><HostId>127.0.0.1</HostId></Error>")


@dataclass(frozen=True)
class Request:
    """What a rule sees of a request."""

    method: str
    target: str  # path and query, as sent
    headers: dict[str, str]

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> str:
        return urlsplit(self.target).query

    @property
    def is_listing(self) -> bool:
        return self.method == "GET" and ("list-type=2" in self.query or "max-keys" in self.query)


@dataclass(frozen=True)
class Fault:
    kind: str  # error | drop | lose_answer | truncate | trickle
    status: int = 503
    keep: float = 0.5
    interval: float = 0.2
    size: int = 1
    body: bytes = ERROR_BODY

    @classmethod
    def error(cls, status: int = 503, body: bytes = ERROR_BODY) -> Fault:
        return cls("error", status=status, body=body)

    @classmethod
    def echo(cls, status: int = 403) -> Fault:
        return cls("echo", status=status)

    @classmethod
    def drop(cls) -> Fault:
        return cls("drop")

    @classmethod
    def lose_answer(cls) -> Fault:
        return cls("lose_answer")

    @classmethod
    def truncate(cls, keep: float = 0.5) -> Fault:
        return cls("truncate", keep=keep)

    @classmethod
    def trickle(cls, interval: float = 0.2, size: int = 1) -> Fault:
        return cls("trickle", interval=interval, size=size)


Match = Callable[[Request], bool]


@dataclass
class Rule:
    fault: Fault
    times: int | None  # None: every matching request
    match: Match
    applied: int = 0

    def takes(self, request: Request) -> bool:
        return (self.times is None or self.applied < self.times) and self.match(request)


@dataclass
class Logged:
    method: str
    target: str
    outcome: str  # forwarded | error 503 | drop | lose_answer | truncate | trickle
    headers: dict[str, str]

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers.items() if key.lower() == name.lower()), None)


def any_request(request: Request) -> bool:
    return True


def method_is(*methods: str) -> Match:
    return lambda request: request.method in methods


def object_reads(request: Request) -> bool:
    """GETs of objects (not listings)."""
    return request.method == "GET" and not request.is_listing


def listings(request: Request) -> bool:
    return request.is_listing


@dataclass
class FaultProxy:
    upstream: str  # http://127.0.0.1:PORT
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    log: list[Logged] = field(default_factory=list)

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._rules: list[Rule] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._clients: set[socket.socket] = set()
        self._stopped = False

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ------------------------------------------------------------------ control

    def start(self) -> FaultProxy:
        self._listen()
        return self

    def stop(self) -> None:
        self._stopped = True
        self._close_listener()
        self._reset_clients()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def inject(self, fault: Fault, *, times: int | None = 1, match: Match = any_request) -> Rule:
        rule = Rule(fault, times, match)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def outage(self, seconds: float) -> None:
        """Refuse connections from now on, and reset the open ones, for ``seconds``."""
        self._close_listener()
        self._reset_clients()
        timer = threading.Timer(seconds, self._listen)
        timer.daemon = True
        timer.start()

    def outcomes(self) -> list[str]:
        with self._lock:
            return [entry.outcome for entry in self.log]

    # ------------------------------------------------------------------ serving

    def _listen(self) -> None:
        if self._stopped:
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(64)
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), name="fault-proxy", daemon=True).start()

    def _close_listener(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()

    def _reset_clients(self) -> None:
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                self._clients.add(client)
            threading.Thread(target=self._serve, args=(client,), name="fault-proxy-conn", daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        reader = client.makefile("rb")
        try:
            while True:
                request_and_body = _read_request(reader, client)
                if request_and_body is None:
                    return
                request, body = request_and_body
                if not self._handle(client, request, body):
                    return
        except OSError:
            return
        finally:
            with self._lock:
                self._clients.discard(client)
            reader.close()
            client.close()

    def _rule_for(self, request: Request) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if rule.takes(request):
                    rule.applied += 1
                    return rule.fault
        return None

    def _record(self, request: Request, outcome: str) -> None:
        with self._lock:
            self.log.append(Logged(request.method, request.target, outcome, dict(request.headers)))

    def _handle(self, client: socket.socket, request: Request, body: bytes) -> bool:
        """Answer one request; False when the connection is to be closed."""
        fault = self._rule_for(request)
        if fault is not None and fault.kind == "error":
            self._record(request, f"error {fault.status}")
            client.sendall(_answer(fault.status, "Injected", [("Content-Type", "application/xml"),
                                                              ("x-oss-request-id", "FAULT-PROXY")], fault.body))
            return True
        if fault is not None and fault.kind == "echo":
            self._record(request, f"echo {fault.status}")
            client.sendall(_answer(fault.status, "Echo", [("Content-Type", "application/xml"),
                                                          ("x-oss-request-id", "FAULT-PROXY")], _echo(request)))
            return True
        if fault is not None and fault.kind == "drop":
            self._record(request, "drop")
            return False
        status, reason, headers, answer_body = self._forward(request, body)
        if request.method == "HEAD":
            length = next((v for k, v in headers if k.lower() == "content-length"), "0")
            raw = _answer(status, reason, headers, b"", content_length=length)
        else:
            raw = _answer(status, reason, headers, answer_body)
        if fault is None:
            self._record(request, "forwarded")
            client.sendall(raw)
            return True
        self._record(request, fault.kind)
        if fault.kind == "lose_answer":
            return False
        if fault.kind == "truncate":
            head = len(raw) - len(answer_body)
            cut = head + int(len(answer_body) * fault.keep) if answer_body else int(head * fault.keep)
            client.sendall(raw[:cut])
            return False
        if fault.kind == "trickle":
            for start in range(0, len(raw), fault.size):
                client.sendall(raw[start:start + fault.size])
                time.sleep(fault.interval)
            return True
        raise ValueError(f"unknown fault {fault.kind!r}")

    def _forward(self, request: Request, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(*self._upstream, timeout=30)
        try:
            connection.putrequest(request.method, request.target, skip_host=True, skip_accept_encoding=True)
            for name, value in request.headers.items():
                connection.putheader(name, value)
            connection.endheaders(body or None)
            response = connection.getresponse()
            answer = response.read()
            headers = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
            if request.method == "HEAD":
                headers += [(k, v) for k, v in response.getheaders() if k.lower() == "content-length"]
            return response.status, response.reason, headers, answer
        finally:
            connection.close()


def _echo(request: Request) -> bytes:
    """A SignatureDoesNotMatch document that repeats the request, the way servers and gateways do."""
    seen = "\n".join([f"{request.method} {request.target}", *(f"{k}: {v}" for k, v in request.headers.items())])
    signed = "\n".join([request.method, *(f"{k.lower()}:{v}" for k, v in request.headers.items()
                                           if k.lower().startswith(("x-oss-", "x-amz-"))), request.path])
    document = (f"<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature does not match. "
                f"We got: {escape(seen)}</Message><RequestId>FAULT-PROXY</RequestId>"
                f"<StringToSign>{escape(signed)}</StringToSign></Error>")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + document.encode("utf-8")


def _read_request(reader: object, client: socket.socket) -> tuple[Request, bytes] | None:
    """One request from the client connection (None when the client closed it)."""
    line = reader.readline(65537)  # type: ignore[attr-defined]
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        header = reader.readline(65537).decode("latin-1")  # type: ignore[attr-defined]
        if header in ("\r\n", "\n", ""):
            break
        name, _, value = header.partition(":")
        headers[name.strip()] = value.strip()
    lowered = {k.lower(): v for k, v in headers.items()}
    if lowered.get("expect", "").lower() == "100-continue":  # botocore waits a second for it before the body
        client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    if lowered.get("transfer-encoding", "").lower() == "chunked":
        raw = bytearray()
        while True:
            size_line = reader.readline()  # type: ignore[attr-defined]
            raw += size_line
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            chunk = reader.read(size + 2)  # type: ignore[attr-defined]
            raw += chunk
            if size == 0:
                while chunk not in (b"\r\n", b""):  # trailers end with an empty line
                    chunk = reader.readline()  # type: ignore[attr-defined]
                    raw += chunk
                break
        body = bytes(raw)
    else:
        body = reader.read(int(lowered.get("content-length", "0") or 0))  # type: ignore[attr-defined]
    headers = {k: v for k, v in headers.items() if k.lower() not in ("connection", "keep-alive", "expect")}
    headers["Connection"] = "close"
    return Request(method, target, headers), body


def _answer(status: int, reason: str, headers: list[tuple[str, str]], body: bytes,
            content_length: str | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers if name.lower() != "content-length"]
    lines.append(f"Content-Length: {content_length if content_length is not None else len(body)}")
    lines.append("Connection: keep-alive")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
