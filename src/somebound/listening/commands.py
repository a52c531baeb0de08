"""``somebound train`` (regenerate the shipped listening models) and ``somebound listen``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from somebound.listening.sentiment import MODELS_DIR


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train listening models (sentiment, intent) reproducibly",
        description=(
            "Without options, regenerates the models shipped in somebound/listening/models "
            "from the shared data (SOMEBOUND_DATA_DIR). With --labelled or --examples, trains "
            "a company's own models instead."
        ),
    )
    p.add_argument("what", nargs="?", choices=("all", "sentiment", "intent"), default="all")
    p.add_argument("--out", type=Path, default=MODELS_DIR, help="output folder (default: package models)")
    p.add_argument("--data", type=Path, default=None, help="shared data folder (default: SOMEBOUND_DATA_DIR or ../shared/data)")
    p.add_argument("--languages", default="fi,sv,en", help="sentiment languages (default fi,sv,en)")
    p.add_argument("--labelled", type=Path, help="CSV text,label,language of your own messages (sentiment)")
    p.add_argument("--examples", type=Path, help="YAML of your own intent examples (intent)")
    p.set_defaults(func=_train)

    q = subparsers.add_parser("listen", help="analyse a text: language, sentiment, intent, urgency, engagement")
    q.add_argument("text", nargs="+")
    q.add_argument("--customer-language", default=None)
    q.add_argument("--followers", type=int, default=None)
    q.set_defaults(func=_listen)


def _train(args: argparse.Namespace) -> int:
    from somebound.listening import training

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    try:
        if args.labelled:
            report = training.train_sentiment_from_csv(args.labelled, out)
            print(json.dumps({"sentiment": report}, indent=2))
            return 0
        if args.examples:
            report = training.train_intent_from_file(args.examples, out / "intent.npz")
            print(json.dumps({"intent": report}, indent=2))
            return 0
        if args.what in ("all", "sentiment"):
            langs = [x.strip() for x in args.languages.split(",") if x.strip()]
            r = training.train_sentiment(out, langs, args.data)
            training.write_report(out, "sentiment", r)
            print(json.dumps({"sentiment": r}, indent=2))
        if args.what in ("all", "intent"):
            r = training.train_intent(out, args.data)
            training.write_report(out, "intent", r)
            print(json.dumps({"intent": r}, indent=2))
    except (FileNotFoundError, ValueError) as exc:
        print(f"somebound train: {exc}", file=sys.stderr)
        return 2
    return 0


def _listen(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from somebound.core import Author, Channel, Message
    from somebound.listening.engagement import EngagementPolicy
    from somebound.listening.enrich import EnrichContext, default_enricher

    text = " ".join(args.text)
    msg = Message(
        channel=Channel.FACEBOOK, native_id="cli", author=Author("cli", followers=args.followers),
        body=text, sent_at=datetime.now(UTC), public=True,
    )
    ctx = EnrichContext(customer_language=args.customer_language)
    enr = default_enricher().enrich(msg, ctx)
    dec = EngagementPolicy.from_yaml().decide(msg, enr, ctx)
    print(json.dumps({"enrichment": enr.as_dict(), "decision": dec.as_dict()}, indent=2, ensure_ascii=False))
    return 0
