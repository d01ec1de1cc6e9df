"""moto's conditional writes made atomic, as S3's are.

moto 5 answers ``If-None-Match: *`` (and ``If-Match``) by looking the key up and then storing it, with no lock
between the two: eight threads creating one key can see two of them win (CI run of 2026-12-01). S3 and OSS decide
a conditional write atomically, and the product's claims (one send, one publish) rely on that. ``install()`` puts
one lock around moto's conditional PUTs and multipart completions, for the in-process mock and the servers the
tests start alike; unconditional requests are not serialised.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.s3.responses import S3Response

_CONDITIONS = ("If-None-Match", "If-Match")
_lock = threading.RLock()


def _atomic_when_conditional(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: S3Response, *args: Any, **kwargs: Any) -> Any:
        if not any(self.headers.get(name) for name in _CONDITIONS):
            return method(self, *args, **kwargs)
        with _lock:
            return method(self, *args, **kwargs)

    call.__dict__["atomic_when_conditional"] = True
    return call


def install() -> None:
    """Wrap moto's key PUT and POST handlers once; calling it again changes nothing."""
    for name in ("_key_response_put", "_key_response_post"):
        method = getattr(S3Response, name)
        if not getattr(method, "atomic_when_conditional", False):
            setattr(S3Response, name, _atomic_when_conditional(method))
