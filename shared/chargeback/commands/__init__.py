"""One module per ``chargeback`` subcommand; each defines ``register(subparsers)``.

``add_storage_options`` and ``open_url`` give every subcommand that reads or writes storage the same
``--storage-deadline`` option and the same way of opening a store with it; ``add_wait_option`` and
``leases_of`` give the commands that write a month (run, ingest, allocate, report, alert) the same ``--wait``;
``load_mapping`` reads ``--mapping`` and the files it names that way.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from functools import partial

from chargeback.config.file import ConfigFile, load_config_file, read_location
from chargeback.once import DEFAULT_LEASES, LeasePolicy
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


def _wait(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= seconds <= 3600:
        raise argparse.ArgumentTypeError(f"{seconds:g} is not between 0 and 3600 seconds")
    return seconds


def add_wait_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait", type=_wait, default=DEFAULT_LEASES.wait, metavar="SECONDS",
        help=f"how long to wait while another run of the same command and month is at work (default "
             f"{DEFAULT_LEASES.wait:g}; 0: give up at once); it then finds that run's work done")


def leases_of(args: argparse.Namespace) -> LeasePolicy:
    """The lease policy the command line asks for."""
    return replace(DEFAULT_LEASES, wait=getattr(args, "wait", DEFAULT_LEASES.wait))


def load_mapping(args: argparse.Namespace, *, use: bool = True) -> ConfigFile:
    """The ``--mapping`` file (the default without one, or when not ``use``d), the files it names read with
    the command line's storage time limits."""
    path = getattr(args, "mapping", None) if use else None
    return load_config_file(path, read=partial(read_location, open_store=lambda url: open_url(url, args)))
