"""The ``chargeback`` command line: parses arguments, composes the library, maps errors to exit codes.

Exit codes: 0 success, 2 bad input (the message names file, line and field), 1 anything else.
Each subcommand lives in a ``chargeback.commands`` module that defines ``register(subparsers)``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from chargeback import __version__
from chargeback.config.environment import check_endpoints
from chargeback.errors import ChargebackError
from chargeback.logs import configure_logging

# Arrow reads its pool choice when it is first imported, which the subcommands do (see chargeback.memory).
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")

log = logging.getLogger("chargeback")

# One module per subcommand, in the order --help lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "chargeback.commands.run",
    "chargeback.commands.demo",
    "chargeback.commands.report",
    "chargeback.commands.alert",
    "chargeback.commands.costs",
    "chargeback.commands.dashboard",
    "chargeback.commands.reconcile",
    "chargeback.commands.estimate",
)


def build_parser() -> argparse.ArgumentParser:
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
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_format, verbose=args.verbose)
    try:
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
