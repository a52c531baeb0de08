"""Channel adapter throughput, each figure next to a baseline measured in the same run.

    python bench/channels.py          # full
    python bench/channels.py --quick  # small, < 60 s

Baselines are what a naive adapter would do with the same input:
- email parse   vs stdlib ``message_from_bytes(policy=default)`` + ``get_body().get_content()``
- facebook/x    vs ``json.loads`` of the same webhook body
- signatures    vs one plain SHA-256 of the body
- keywords      vs ``"somebound" in text.lower()`` (no word boundaries, no inflection rules)
- CDR import    vs ``csv.DictReader`` over the same text
- SMTP accept   vs a bare aiosmtpd handler that answers 250 without a callback
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import smtplib
import sys
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from somebound.channels import facebook, x  # noqa: E402
from somebound.channels import samples as s  # noqa: E402
from somebound.channels.email import EmailListener, parse_email  # noqa: E402
from somebound.channels.feeds import KeywordMatcher  # noqa: E402
from somebound.channels.phone import import_cdr_csv  # noqa: E402

WORDS = [
    "hei",
    "kiitos",
    "lasku",
    "tilaus",
    "myöhässä",
    "väärä",
    "summa",
    "asiakaspalvelu",
    "ei",
    "vastaa",
    "hyvä",
    "huono",
    "sovellus",
    "kaatuu",
    "päivitys",
    "åbo",
    "öljy",
    "hej",
    "tack",
    "faktura",
    "beställning",
]


def timed(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def row(name: str, n: int, ours: float, base: float, unit: str = "items") -> None:
    print(
        f"{name:<26} {n:>7} {unit:<8} ours {n / ours:>10,.0f}/s   baseline {n / base:>10,.0f}/s"
        f"   ours/baseline time {ours / base:5.2f}x"
    )


def emails(n: int) -> list[bytes]:
    out = []
    for i in range(n):
        mail = EmailMessage()
        mail["From"] = f"Päivi Järvinen {i} <p{i}@example.fi>"
        mail["To"] = "tuki@somebound.fi"
        mail["Subject"] = f"Tilaus {i} myöhässä"
        mail["Message-ID"] = f"<m{i}@example.fi>"
        mail["References"] = f"<r{i}@example.fi>"
        mail["Date"] = "Mon, 02 Mar 2026 10:00:00 +0200"
        text = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(60))
        if i % 3 == 0:
            mail.set_content(text, charset="iso-8859-1", cte="quoted-printable")
        else:
            mail.set_content(text)
            mail.add_alternative(f"<p>{text}</p>", subtype="html")
        if i % 5 == 0:
            mail.add_attachment(
                b"%PDF" + bytes(2000), maintype="application", subtype="pdf", filename="lasku.pdf"
            )
        out.append(mail.as_bytes(policy=policy.SMTP))  # CRLF, as on the wire
    return out


def bench_email(n: int) -> None:
    raws = emails(n)

    def ours():
        for raw in raws:
            parse_email(raw)

    def base():
        for raw in raws:
            msg = message_from_bytes(raw, policy=policy.default)
            body = msg.get_body(("plain", "html"))
            body.get_content() if body is not None else ""

    row("email parse", n, timed(ours, 3), timed(base, 3), "emails")


def bench_webhooks(n: int) -> None:
    fb = [
        json.dumps(
            s.facebook_webhook(
                "1",
                changes=[
                    s.facebook_comment(
                        "1", "1_5", f"5_{i}", "20", "Liisa", "Miksi sovellus kaatuu? " * 3
                    )
                    for i in range(j, j + 5)
                ],
            )
        ).encode()
        for j in range(0, n, 5)
    ]
    xs = [
        json.dumps(
            s.x_webhook(
                "2000",
                tweets=[
                    s.x_tweet(
                        str(100 + i),
                        "31",
                        "matti",
                        "Matti",
                        "@somebound laskutus sekaisin",
                        in_reply_to="99",
                        mentions=[("2000", "somebound")],
                    )
                    for i in range(j, j + 5)
                ],
            )
        ).encode()
        for j in range(0, n, 5)
    ]
    row(
        "facebook webhook parse",
        n,
        timed(lambda: [facebook.parse_webhook(b) for b in fb], 3),
        timed(lambda: [json.loads(b) for b in fb], 3),
        "events",
    )
    row(
        "x webhook parse",
        n,
        timed(lambda: [x.parse_webhook(b) for b in xs], 3),
        timed(lambda: [json.loads(b) for b in xs], 3),
        "events",
    )
    signed = [(b, facebook.sign(b, "secret")) for b in fb]
    row(
        "facebook signature check",
        len(signed),
        timed(lambda: [facebook.verify_signature(b, h, "secret") for b, h in signed], 3),
        timed(lambda: [hashlib.sha256(b).hexdigest() for b, _ in signed], 3),
        "bodies",
    )


def bench_keywords(n: int) -> None:
    texts = [
        " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(40))
        + (" Someboundin" if i % 10 == 0 else "")
        for i in range(n)
    ]
    matcher = KeywordMatcher.of(["somebound*", "reklamaatio", "huono palvelu"])
    hits = sum(1 for t in texts if matcher.matches(t))
    row(
        "keyword match",
        n,
        timed(lambda: [matcher.matches(t) for t in texts], 3),
        timed(lambda: ["somebound" in t.lower() for t in texts], 3),
        "texts",
    )
    print(f"{'':26} keyword hits {hits} of {n}")


def bench_cdr(n: int) -> None:
    lines = ["call_id;start_time;end_time;caller;queue;agent;wait_seconds;disposition"]
    lines += [
        f"c{i};2026-03-02T08:{i % 60:02d}:00Z;2026-03-02T09:{i % 60:02d}:00Z;"
        f"040 {i % 1000:03d} 4567;laskutus;anna;{i % 90},5;answered"
        for i in range(n)
    ]
    text = "\n".join(lines) + "\n"
    row(
        "CDR import",
        n,
        timed(lambda: import_cdr_csv(text), 2),
        timed(lambda: list(csv.DictReader(io.StringIO(text), delimiter=";")), 2),
        "rows",
    )


def bench_smtp(n: int) -> None:
    raws = emails(n)
    from aiosmtpd.controller import Controller

    class Bare:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    def push(host: str, port: int) -> float:
        start = time.perf_counter()
        with smtplib.SMTP(host, port, timeout=30) as client:
            for raw in raws:
                client.sendmail("a@example.fi", ["tuki@somebound.fi"], raw)
        return time.perf_counter() - start

    stored: list[bytes] = []
    with EmailListener(lambda raw, info: stored.append(raw), port=0) as listener:
        ours = push(listener.host, listener.port)
    bare = EmailListener(lambda raw, info: None, port=0)
    bare._controller.handler = Bare()  # same server stack, no callback / executor hop
    with bare:
        base = push(bare.host, bare.port)
    assert len(stored) == n
    del Controller
    row("SMTP accept (1 session)", n, ours, base, "emails")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 120 if args.quick else 2000
    print(
        f"somebound channels benchmark ({'quick' if args.quick else 'full'}), python "
        f"{sys.version.split()[0]}"
    )
    bench_email(n)
    bench_webhooks(n * 2)
    bench_keywords(n * 10)
    bench_cdr(n * 5)
    bench_smtp(n // 3)


if __name__ == "__main__":
    main()
