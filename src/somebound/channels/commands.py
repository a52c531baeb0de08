"""``somebound channels ...``: try the adapters on files from the command line.

somebound channels parse-email mail.eml [--blobs DIR]
somebound channels parse-webhook facebook|x|phone payload.json
somebound channels import-cdr calls.csv [--timezone Europe/Helsinki]
somebound channels poll-feed URL --keyword 'somebound*' [--state state.json]

Settings come from the same ``SOMEBOUND_*`` variables the hub reads
(``channels.settings.ChannelSettings``) and the parsing from the same registry, so what
this prints is what the hub would store.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from somebound.channels.errors import ChannelError, ParseError
from somebound.channels.serialize import message_to_dict
from somebound.channels.settings import ChannelSettings, SettingsError
from somebound.core.enums import Channel


def _print(obj: object) -> None:
    json.dump(obj, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def _parse_email(args: argparse.Namespace) -> int:
    from somebound.channels.blobs import BlobStore
    from somebound.channels.email import parse_email

    blobs = BlobStore(args.blobs) if args.blobs else None
    try:
        message = parse_email(Path(args.file).read_bytes(), blobs=blobs)
    except ParseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _print(message_to_dict(message))
    return 0


def _settings() -> ChannelSettings | None:
    """The environment's channel settings, or ``None`` after printing what is wrong."""
    try:
        return ChannelSettings.from_env()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def _parse_webhook(args: argparse.Namespace) -> int:
    from somebound.channels.registry import parse_native

    settings = _settings()
    if settings is None:
        return 2
    try:
        messages = parse_native(Channel(args.channel), Path(args.file).read_bytes(), settings)
    except ParseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _print([message_to_dict(m) for m in messages])
    return 0


def _import_cdr(args: argparse.Namespace) -> int:
    from somebound.channels.phone import import_cdr_csv

    settings = _settings()
    if settings is None:
        return 2
    try:
        messages, errors = import_cdr_csv(
            Path(args.file),
            timezone=args.timezone or settings.phone_timezone,
            default_country_code=settings.default_country_code,
        )
    except ParseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _print(
        {
            "imported": len(messages),
            "errors": [str(e) for e in errors],
            "messages": [message_to_dict(m) for m in messages] if args.verbose else None,
        }
    )
    return 1 if errors else 0


def _poll_feed(args: argparse.Namespace) -> int:
    from somebound.channels.feeds import FeedPoller, FeedState, KeywordMatcher

    state_path = Path(args.state) if args.state else None
    if state_path and state_path.exists():
        state = FeedState.from_dict(json.loads(state_path.read_text("utf-8")))
    else:
        state = FeedState(url=args.url)
    poller = FeedPoller(KeywordMatcher.of(args.keyword, args.exclude))
    try:
        result = poller.poll(state)
    except ChannelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        poller.close()
    if state_path:
        state_path.write_text(json.dumps(result.state.to_dict(), ensure_ascii=False), "utf-8")
    _print(
        {
            "status": result.status,
            "new_entries": result.new_entries,
            "mentions": [message_to_dict(m) for m in result.messages],
        }
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("channels", help="try channel adapters on files and feeds")
    sub = parser.add_subparsers(dest="channels_command", required=True)

    p = sub.add_parser("parse-email", help="parse an RFC 5322 file and print the Message")
    p.add_argument("file")
    p.add_argument("--blobs", help="store attachments under this directory")
    p.set_defaults(func=_parse_email)

    p = sub.add_parser("parse-webhook", help="parse a stored webhook body")
    p.add_argument("channel", choices=["facebook", "x", "phone", "chat"])
    p.add_argument("file")
    p.set_defaults(func=_parse_webhook)

    p = sub.add_parser("import-cdr", help="import call detail records from CSV")
    p.add_argument("file")
    p.add_argument(
        "--timezone",
        default=None,
        help="zone of times without offset (default $SOMEBOUND_PHONE_TIMEZONE, Europe/Helsinki)",
    )
    p.add_argument("--verbose", action="store_true", help="print the messages too")
    p.set_defaults(func=_import_cdr)

    p = sub.add_parser("poll-feed", help="poll an RSS/Atom feed once for keyword mentions")
    p.add_argument("url")
    p.add_argument("--keyword", action="append", required=True, help="e.g. 'somebound*'")
    p.add_argument("--exclude", action="append", default=[])
    p.add_argument("--state", help="JSON file keeping ETag/Last-Modified/seen ids")
    p.set_defaults(func=_poll_feed)
