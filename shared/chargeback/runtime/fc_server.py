"""Function Compute custom-container adapter: speaks FC's event protocol, calls ``handler(event, context)``.

A custom container receives each invocation as ``POST /invoke`` on its port (9000), the event as the body and
the function role's STS credentials in the ``x-fc-access-key-id``, ``x-fc-access-key-secret`` and
``x-fc-security-token`` headers. This module turns that into the Python runtime's ``handler(event, context)``
call, so the same ``functions/<job>/handler.py`` serves both runtimes. A handler that raises gives HTTP 404
with ``x-fc-status: 404``, which FC records as a failed invocation (and retries, then sends to the on-failure
destination). The handler has already logged the error; this adapter does not log it again.

    python -m chargeback.runtime.fc_server functions.daily.handler.handler --port 9000
"""

from __future__ import annotations

import argparse
import importlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Handler = Callable[[bytes, Any], Any]


@dataclass(frozen=True)
class FcCredentials:
    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str = field(repr=False)


@dataclass(frozen=True)
class FcContext:
    """The subset of the Python runtime's context that the handlers use."""

    request_id: str
    credentials: FcCredentials
    function_name: str = ""
    region: str = ""


def context_from_headers(headers: Any) -> FcContext:
    return FcContext(
        request_id=headers.get("x-fc-request-id", ""),
        credentials=FcCredentials(headers.get("x-fc-access-key-id", ""),
                                  headers.get("x-fc-access-key-secret", ""),
                                  headers.get("x-fc-security-token", "")),
        function_name=headers.get("x-fc-function-name", ""),
        region=headers.get("x-fc-region", ""),
    )


def load_handler(dotted: str) -> Handler:
    """``functions.daily.handler.handler`` -> the callable."""
    module, _, name = dotted.rpartition(".")
    function: Handler = getattr(importlib.import_module(module), name)
    if not callable(function):
        raise TypeError(f"{dotted} is not callable")
    return function


def make_server(handler: Handler, host: str = "0.0.0.0", port: int = 9000) -> ThreadingHTTPServer:  # noqa: S104
    """An HTTP server speaking FC's event protocol to ``handler``. 0.0.0.0: FC connects from outside."""

    class _Invoke(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path == "/initialize":
                self._reply(200, b"")
                return
            if self.path != "/invoke":
                self._reply(404, b"unknown path")
                return
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            try:
                result = handler(body, context_from_headers(self.headers))
            except Exception as exc:  # already logged by the handler; report the failure to FC
                error = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
                self._reply(404, json.dumps(error).encode(), failed=True)
                return
            text = result if isinstance(result, bytes) else str(result if result is not None else "").encode()
            self._reply(200, text)

        def _reply(self, status: int, body: bytes, *, failed: bool = False) -> None:
            self.send_response(status)
            self.send_header("x-fc-status", "404" if failed else "200")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the handler logs JSON; access lines would only add noise

    return ThreadingHTTPServer((host, port), _Invoke)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("handler", help="dotted path of handler(event, context)")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args(argv)
    make_server(load_handler(args.handler), port=args.port).serve_forever()


if __name__ == "__main__":  # pragma: no cover
    main()
