"""NPS and CSAT: scoring, answer validation and unforgeable survey links.

A survey goes out after a case is solved, through the case's own channel (the lead's
pipeline sends it; :func:`survey_invitation` writes the text). The link carries a token
``<payload>.<signature>`` where the payload names the case, the kind (nps/csat) and an
expiry, and the signature is HMAC-SHA256 with the hub's secret: anyone may open the link
and answer, but nobody can answer for another case or change the kind, because that
would need the secret. Tokens are URL-safe and need no database row to verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

SURVEY_KINDS = ("nps", "csat")
SCALES = {"nps": (0, 10), "csat": (1, 5)}
DEFAULT_TTL = timedelta(days=30)


class InvalidSurveyToken(ValueError):
    """The survey link was altered, signed with another secret, or has expired."""


class InvalidSurveyAnswer(ValueError):
    """The answer is outside the scale of its survey kind."""


@dataclass(frozen=True)
class NpsResult:
    answers: int
    promoters: int
    passives: int
    detractors: int

    @property
    def nps(self) -> float | None:
        """% promoters − % detractors, from −100 to +100 (None without answers)."""
        if not self.answers:
            return None
        return 100.0 * (self.promoters - self.detractors) / self.answers


@dataclass(frozen=True)
class CsatResult:
    answers: int
    satisfied: int
    mean: float | None

    @property
    def csat(self) -> float | None:
        """% of answers scoring 4 or 5 on the 1–5 scale (None without answers)."""
        return 100.0 * self.satisfied / self.answers if self.answers else None


def nps(scores: Iterable[int]) -> NpsResult:
    """Net Promoter Score of 0–10 answers: promoters 9–10, passives 7–8, detractors 0–6."""
    vals = [validate_score("nps", s) for s in scores]
    return NpsResult(
        answers=len(vals),
        promoters=sum(v >= 9 for v in vals),
        passives=sum(7 <= v <= 8 for v in vals),
        detractors=sum(v <= 6 for v in vals),
    )


def csat(scores: Iterable[int]) -> CsatResult:
    """Customer satisfaction of 1–5 answers: share of 4–5 and the mean."""
    vals = [validate_score("csat", s) for s in scores]
    return CsatResult(
        answers=len(vals),
        satisfied=sum(v >= 4 for v in vals),
        mean=sum(vals) / len(vals) if vals else None,
    )


def validate_score(kind: str, score: object) -> int:
    if kind not in SCALES:
        raise InvalidSurveyAnswer(f"unknown survey kind {kind!r}; use nps or csat")
    lo, hi = SCALES[kind]
    if isinstance(score, bool) or not isinstance(score, int) or not lo <= score <= hi:
        raise InvalidSurveyAnswer(f"{kind} score must be a whole number {lo}–{hi}, got {score!r}")
    return score


# -- tokens --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SurveyToken:
    case_id: int
    kind: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str | bytes, payload: str) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return _b64(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest())


def make_survey_token(
    secret: str | bytes,
    case_id: int,
    kind: str,
    *,
    now: datetime | None = None,
    ttl: timedelta = DEFAULT_TTL,
) -> str:
    """A signed, URL-safe token for answering survey ``kind`` about ``case_id``."""
    if not secret:
        raise ValueError("a survey secret is required (set SOMEBOUND_SURVEY_SECRET)")
    if kind not in SURVEY_KINDS:
        raise ValueError(f"unknown survey kind {kind!r}; use nps or csat")
    exp = int(((now or datetime.now(UTC)) + ttl).timestamp())
    payload = _b64(json.dumps({"c": int(case_id), "k": kind, "e": exp}, separators=(",", ":")).encode())
    return f"{payload}.{_sign(secret, payload)}"


def verify_survey_token(
    secret: str | bytes, token: str, *, now: datetime | None = None
) -> SurveyToken:
    """Check signature and expiry; the decoded case and kind, or :class:`InvalidSurveyToken`."""
    payload, _, sig = token.partition(".")
    if not payload or not sig:
        raise InvalidSurveyToken("malformed survey link")
    if not hmac.compare_digest(sig, _sign(secret, payload)):
        raise InvalidSurveyToken("survey link signature does not match")
    try:
        body = json.loads(_unb64(payload))
        tok = SurveyToken(
            int(body["c"]), str(body["k"]), datetime.fromtimestamp(int(body["e"]), UTC)
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidSurveyToken("survey link payload is unreadable") from exc
    if tok.kind not in SURVEY_KINDS:
        raise InvalidSurveyToken(f"unknown survey kind {tok.kind!r}")
    if (now or datetime.now(UTC)) > tok.expires_at:
        raise InvalidSurveyToken("survey link has expired")
    return tok


# -- invitation text -------------------------------------------------------------------------

_TEXT = {
    ("nps", "en"): "How likely are you to recommend us to a friend? Answer 0–10: {url}",
    ("nps", "fi"): "Kuinka todennäköisesti suosittelisit meitä ystävällesi? Vastaa 0–10: {url}",
    ("nps", "sv"): "Hur troligt är det att du skulle rekommendera oss till en vän? "
    "Svara 0–10: {url}",
    ("csat", "en"): "How satisfied were you with our service? Answer 1–5: {url}",
    ("csat", "fi"): "Kuinka tyytyväinen olit palveluumme? Vastaa 1–5: {url}",
    ("csat", "sv"): "Hur nöjd var du med vår service? Svara 1–5: {url}",
}


def survey_invitation(
    secret: str | bytes,
    case_id: int,
    kind: str,
    base_url: str,
    language: str | None = None,
    *,
    now: datetime | None = None,
) -> str:
    """The message to send through the case's channel once it is solved (fi/sv/en)."""
    token = make_survey_token(secret, case_id, kind, now=now)
    lang = language if (kind, language) in _TEXT else "en"
    return _TEXT[(kind, lang)].format(url=f"{base_url.rstrip('/')}/surveys/{token}")
