"""Logging set-up: readable text in a terminal, one JSON object per line otherwise (functions, CI).

Both formats pass every message, extra field and traceback through ``chargeback.redact``: a traceback repeats
the SDK exceptions behind an error, whose texts may echo a request's token or signature.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from chargeback.redact import redact

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with the record's ``extra`` fields beside the message."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``LEVEL message`` (and the traceback), redacted."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(fmt: str = "auto", *, verbose: bool = False) -> None:
    """Send the package's logs to stderr in ``fmt`` ('auto', 'text' or 'json')."""
    if fmt == "auto":
        fmt = "text" if sys.stderr.isatty() else "json"
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    logger = logging.getLogger("chargeback")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False
    # oss2 logs every failed request at INFO with the error's details, which echo the signed string (STS token
    # included): only its warnings are kept, through the same redacting handler.
    sdk = logging.getLogger("oss2")
    sdk.handlers[:] = [handler]
    sdk.setLevel(logging.WARNING)
    sdk.propagate = False
