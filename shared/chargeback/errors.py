"""The errors the library raises, each with the exit code the command line maps it to."""

from __future__ import annotations


class ChargebackError(Exception):
    """Base of every error this package raises on purpose."""

    exit_code = 1


class InputError(ChargebackError):
    """Bad input from the user: a bill, a mapping, an argument. Exit code 2.

    The message names the file, the line and the field where they are known.
    """

    exit_code = 2

    def __init__(self, message: str, *, source: str = "", line: int | None = None, field: str = "") -> None:
        self.source = source
        self.line = line
        self.field = field
        super().__init__(located(message, source=source, line=line, field=field))


def located(message: str, *, source: str = "", line: int | None = None, field: str = "") -> str:
    """``message`` after its place: 'keys.csv, line 4, field 'from': ...' (the parts that are known)."""
    where = [source] if source else []
    if line is not None:
        where.append(f"line {line}")
    if field:
        where.append(f"field '{field}'")
    return f"{', '.join(where)}: {message}" if where else message


class ConfigError(InputError):
    """A bad setting or mapping file; lists every bad field at once."""


class StorageError(ChargebackError):
    """Object storage failed after retries (network, permissions, missing bucket)."""


class NotFoundError(StorageError):
    """An object that should exist does not."""
