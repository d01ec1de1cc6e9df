"""The ``chargeback`` command line: parses arguments, composes the library, maps errors to exit codes.

Exit codes: 0 success, 2 bad input (the message names file, line and field), 1 anything else.
Each subcommand lives in a ``chargeback.commands`` module that defines ``register(subparsers)``. Only the
module of the subcommand being run is imported (with what it needs: pyarrow, polars, the mail or cloud SDKs);
the others are listed by name and one-line help from :data:`COMMANDS`, so ``chargeback --help`` starts in a
few hundredths of a second and ``run`` never loads what only ``report`` or ``alert`` use.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from chargeback import __version__
from chargeback.errors import ChargebackError
from chargeback.logs import configure_logging
from chargeback.memory import apply_allocator_settings

# Before the subcommands load Arrow and polars, and before any thread (chargeback.memory).
apply_allocator_settings()

log = logging.getLogger("chargeback")

# Every subcommand, in the order --help lists them: the module that registers it and its one-line help (a test
# checks that each module registers exactly this help).
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("chargeback.commands.run", "ingest and allocate one month"),
    "ingest": ("chargeback.commands.run", "read one month's bills into normalized lines (no allocation)"),
    "allocate": ("chargeback.commands.run", "(re)allocate ingested months with the current mapping"),
    "demo": ("chargeback.commands.demo", "run the whole pipeline on the embedded demo data"),
    "report": ("chargeback.commands.report", "send the month's chargeback statements (each cost center once)"),
    "alert": ("chargeback.commands.alert", "send budget, forecast, anomaly, new-key, free-quota and stale-data alerts"),
    "costs": ("chargeback.commands.costs",
              "what months cost, by any dimension (billed, list, discount, free quota, tokens)"),
    "dashboard": ("chargeback.commands.dashboard",
                  "one HTML page of the last months: totals, cost centers, models, keys, budgets"),
    "reconcile": ("chargeback.commands.reconcile", "explain the gap between list and billed cost of a month"),
    "estimate": ("chargeback.commands.estimate", "estimate the cost of a prompt or a conversation"),
}
COMMAND_MODULES: tuple[str, ...] = tuple(dict.fromkeys(module for module, _ in COMMANDS.values()))


def _chosen(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line (the first word that is one), or None."""
    return next((arg for arg in argv if arg in COMMANDS), None)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv``, only the chosen subcommand's module is loaded (all of them without)."""
    parser = argparse.ArgumentParser(
        prog="chargeback",
        description=(
            "Split Alibaba Cloud Model Studio (Qwen) bills by API key, workspace, model and team into exact "
            "allocation tables, statements and alerts."
        ),
        epilog="Exit codes: 0 success, 2 bad input (file, line and field are named), 1 other failure.",
    )
    parser.add_argument("--version", action="version", version=f"chargeback {__version__}")
    parser.add_argument("--log-format", choices=("auto", "text", "json"), default="auto",
                        help="log format: auto = readable text in a terminal, JSON lines otherwise")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = None if argv is None else _chosen(argv)
    wanted = set(COMMAND_MODULES) if argv is None else {COMMANDS[chosen][0]} if chosen else set()
    registered: set[str] = set()
    for name, (module, help_) in COMMANDS.items():
        if module in wanted:
            if module not in registered:
                importlib.import_module(module).register(subparsers)
                registered.add(module)
        else:
            subparsers.add_parser(name, help=help_, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(arguments)
    args = parser.parse_args(arguments)
    configure_logging(args.log_format, verbose=args.verbose)
    try:
        from chargeback.config.environment import check_endpoints  # pydantic: loaded once a command runs

        check_endpoints(os.environ)  # the storage SDKs read these variables themselves
        result: int = args.handler(args)
        return result
    except ChargebackError as exc:
        log.error("%s", exc, extra={"exit_code": exc.exit_code, "error": type(exc).__name__})
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # the reader of our output went away (e.g. `| head`): not a failure of ours
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stops the interpreter's flush error at exit
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an unexpected failure: logged with its traceback, reported in one line
        log.exception("unexpected failure", extra={"exit_code": 1, "error": type(exc).__name__})
        print(f"error: unexpected failure ({type(exc).__name__}: {exc}); the log above has the details",
              file=sys.stderr)
        return 1


def entry() -> None:
    """The ``chargeback`` console script: :func:`main`, then the process ends at once with its exit code.

    By then every file the command wrote is closed (and synced, where the store says so) and every temporary
    folder removed; the logs and the standard streams are flushed here. What ``os._exit`` skips is the
    interpreter's teardown of pyarrow's and polars' objects: about 0.3 s after a 1M-row month, measured here.
    """
    code = main()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader that went away, or a stream already closed
            stream.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
