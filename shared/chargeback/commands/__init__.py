"""One module per ``chargeback`` subcommand; each defines ``register(subparsers)``.

``add_storage_options`` and ``open_url`` give every subcommand that reads or writes storage the same
``--storage-deadline`` option and the same way of opening a store with it.
"""

from __future__ import annotations

import argparse

from chargeback.storage import ObjectStore, StoragePolicy, open_store

DEFAULT_STORAGE_DEADLINE = StoragePolicy().call_deadline


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < seconds <= 3600:
        raise argparse.ArgumentTypeError(f"{seconds:g} is not between 0 and 3600 seconds")
    return seconds


def add_storage_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage-deadline", type=_seconds, default=DEFAULT_STORAGE_DEADLINE, metavar="SECONDS",
        help=f"the longest one S3/OSS call may take, retries included (default {DEFAULT_STORAGE_DEADLINE:g}; "
             "a download gets 1 s per MiB more); attempts, waits and timeouts shrink to fit")


def open_url(url: str, args: argparse.Namespace) -> ObjectStore:
    """The store at ``url`` with the command line's storage time limits."""
    return open_store(url, policy=StoragePolicy.within(getattr(args, "storage_deadline", DEFAULT_STORAGE_DEADLINE)))
