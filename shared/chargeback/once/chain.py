"""A document that changes by whole generations, ``<folder>/00000001.json``, ``00000002.json``...; the newest
is current.

Each generation is written with ``ObjectStore.create``, which refuses an existing key, so whoever read
generation n and writes n+1 first wins and every other writer of n+1 learns that it lost: a compare-and-swap
built from the one conditional write that S3 (``If-None-Match``), OSS (``x-oss-forbid-overwrite``, which has
no ``If-Match`` for a PUT) and a local disk (an exclusive link) all have. Every generation carries a random
``write`` id, so a create whose answer was lost and that the store retried, and that then failed for its own
object, is recognised as a success.

``Holder`` names the process behind a generation well enough to tell, on the same machine, that it has died.
"""

from __future__ import annotations

import json
import os
import re
import socket
import uuid
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

from chargeback.errors import NotFoundError, StorageError
from chargeback.storage import AlreadyExistsError, ObjectStore

_GENERATION = re.compile(r"^(?P<folder>.+)/(?P<number>\d{8})\.json$")
READERS = 8  # generations read at once when a whole folder of chains is loaded


def _proc(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _started(pid: int) -> tuple[str, str]:
    """The process's state and start time (clock ticks after boot) from /proc, or ('', '') when it is gone."""
    text = _proc(f"/proc/{pid}/stat")
    if not text:
        return "", ""
    fields = text[text.rfind(")") + 2 :].split()  # after the command name, which may hold spaces
    return fields[0], fields[19]


@dataclass(frozen=True)
class Holder:
    """Who wrote a generation: host and process, with what tells processes apart on Linux (the boot, the pid
    namespace, the process's start time); empty where the system does not say."""

    host: str
    pid: int
    boot: str = ""
    pid_namespace: str = ""
    started: str = ""

    @classmethod
    def this_process(cls) -> Holder:
        return _holder_of(os.getpid())  # by pid: a forked child is another holder

    def is_gone(self) -> bool:
        """True only when the holder ran on this machine, in this pid namespace, and its process has ended (or
        its pid now names another process). Elsewhere nobody can tell: False, and its expiry decides."""
        here = Holder.this_process()
        if not (self.boot and self.pid_namespace and self.started) or (
                (self.boot, self.pid_namespace) != (here.boot, here.pid_namespace)):
            return False
        state, started = _started(self.pid)
        return not started or started != self.started or state in ("Z", "X")

    def describe(self) -> str:
        return f"process {self.pid} on {self.host}"

    @classmethod
    def from_json(cls, data: Any) -> Holder | None:
        if not isinstance(data, dict):
            return None
        return cls(str(data.get("host", "")), int(data.get("pid", 0)), str(data.get("boot", "")),
                   str(data.get("pid_namespace", "")), str(data.get("started", "")))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@cache
def _holder_of(pid: int) -> Holder:
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return Holder(socket.gethostname(), pid, _proc("/proc/sys/kernel/random/boot_id"), namespace, _started(pid)[1])


@dataclass(frozen=True)
class Generation:
    """One generation of a chain: its number and its document."""

    number: int
    document: dict[str, Any]


def generation_key(folder: str, number: int) -> str:
    return f"{folder.rstrip('/')}/{number:08d}.json"


def _read(store: ObjectStore, key: str) -> dict[str, Any]:
    try:
        document = json.loads(store.read_bytes(key))
    except ValueError as exc:
        raise StorageError(f"{store.url}/{key} is not a readable JSON document ({exc}): it was written by "
                           "chargeback and must not be edited; restore it from the bucket's versions") from None
    if not isinstance(document, dict):
        raise StorageError(f"{store.url}/{key} is not a JSON object")
    return document


class Chain:
    """The generations under ``folder`` in ``store``."""

    def __init__(self, store: ObjectStore, folder: str) -> None:
        self.store = store
        self.folder = folder.rstrip("/")

    def numbers(self) -> list[int]:
        found = []
        for info in self.store.list(f"{self.folder}/"):
            match = _GENERATION.match(info.key)
            if match and match["folder"] == self.folder:
                found.append(int(match["number"]))
        return sorted(found)

    def read(self, number: int) -> Generation:
        return Generation(number, _read(self.store, generation_key(self.folder, number)))

    def head(self) -> Generation | None:
        """The newest generation, or None when the chain has none."""
        numbers = self.numbers()
        if not numbers:
            return None
        try:
            return self.read(numbers[-1])
        except NotFoundError:  # removed (a lease expired by the lifecycle rule) between the listing and the read
            return self.head()

    def append(self, after: Generation | None, document: dict[str, Any]) -> Generation | None:
        """Write ``document`` as the generation after ``after`` (the first when None); None when another writer
        wrote that generation first."""
        number = (after.number if after else 0) + 1
        document = {**document, "write": uuid.uuid4().hex}
        data = (json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode("utf-8")
        key = generation_key(self.folder, number)
        try:
            self.store.create(key, data, content_type="application/json")
        except AlreadyExistsError:
            try:
                theirs = _read(self.store, key)
            except NotFoundError:
                return None
            if theirs.get("write") != document["write"]:
                return None  # another writer's: we lost
        return Generation(number, document)


def scan(store: ObjectStore, folder: str) -> dict[str, int]:
    """Every chain under ``folder``, by its folder below ``folder``, with its newest generation's number."""
    newest: dict[str, int] = defaultdict(int)
    root = f"{folder.rstrip('/')}/"
    for info in store.list(root):
        match = _GENERATION.match(info.key)
        if match:
            chain = match["folder"][len(root):]
            newest[chain] = max(newest[chain], int(match["number"]))
    return dict(newest)


def read_heads(store: ObjectStore, folder: str, chains: Iterable[tuple[str, int]]) -> dict[str, Generation]:
    """The given generations (chain below ``folder``, number), read a few at a time."""
    wanted = list(chains)

    def one(item: tuple[str, int]) -> tuple[str, Generation]:
        chain, number = item
        return chain, Generation(number, _read(store, generation_key(f"{folder.rstrip('/')}/{chain}", number)))

    if len(wanted) <= 1:
        return dict(map(one, wanted))
    with ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="chain-read") as pool:
        return dict(pool.map(one, wanted))
