"""``chargeback estimate``: what a prompt or a conversation will cost, before it is sent."""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

from chargeback.commands import load_mapping
from chargeback.config.prices import SITE_CURRENCY
from chargeback.config.resolve import CommandLine, resolve_site
from chargeback.errors import InputError
from chargeback.pricing.catalog import load_catalog
from chargeback.pricing.estimate import (
    conversation_rounds,
    count_tokens,
    estimate,
    format_estimate,
    parse_conversation,
    text_rounds,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "estimate", help="estimate the cost of a prompt or a conversation",
        description=(
            "Count tokens with the Qwen tokenizer (offline) and price them with the catalog of list prices. "
            "In a conversation every round is billed its whole history as input; each assistant reply is a "
            "round, and a last user message without a reply is priced with --output-tokens. A request is "
            "priced at the context tier of its total input tokens, input and output; the same requests are "
            "also priced with implicit cache hits on the history, with an explicit cache and as batch calls."))
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="the prompt text")
    source.add_argument("--file", type=Path, metavar="PROMPT.txt", help="a UTF-8 file holding the prompt")
    source.add_argument("--conversation", type=Path, metavar="CHAT.json",
                        help='a JSON list of {"role": ..., "content": ...} messages')
    parser.add_argument("--model", required=True, metavar="NAME", help="the model to price, e.g. qwen-plus")
    parser.add_argument("--output-tokens", type=int, default=0, metavar="N",
                        help="expected reply tokens of the prompt or of the last unanswered turn (default 0)")
    parser.add_argument("--site", choices=sorted(SITE_CURRENCY),
                        help="intl (USD) or cn (CNY); default: the mapping file's pricing.site, else intl")
    parser.add_argument("--thinking", action="store_true",
                        help="price the output as thinking-mode output (where the model prices it apart)")
    parser.add_argument("--on", type=_day, metavar="YYYY-MM-DD", help="price date (default today)")
    parser.add_argument("--mapping", metavar="FILE",
                        help="a mapping file whose 'prices:' entries add or override catalog prices and whose "
                             "'pricing: {site: ...}' sets the default site")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=_estimate)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")  # a byte-order mark is not part of the text
    except FileNotFoundError:
        raise InputError("no such file", source=str(path)) from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", source=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", source=str(path)) from None


def _estimate(args: argparse.Namespace) -> int:
    if args.output_tokens < 0:
        raise InputError("must not be negative", field="--output-tokens")
    config = load_mapping(args) if args.mapping else None
    catalog = load_catalog(config.prices if config else ())
    site = resolve_site(config, CommandLine(site=args.site))
    on = args.on or date.today()
    if args.conversation is not None:
        source = str(args.conversation)
        messages = parse_conversation(_read(args.conversation), source=source)
        rounds = conversation_rounds(messages, count_tokens, args.output_tokens, source=source)
    else:
        text = args.text if args.text is not None else _read(args.file)
        rounds = text_rounds(text, count_tokens, args.output_tokens)
    result = estimate(catalog, args.model, site, on, rounds, thinking=args.thinking)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(format_estimate(result, conversation=args.conversation is not None))
    return 0
