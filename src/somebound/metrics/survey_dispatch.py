"""Send the NPS/CSAT invitation when a case is solved, through the case's own channel.

The hub calls :func:`status_hook` after an agent changes a case's status (the REST API
and the web inbox both call ``app.state.on_status_changed``). For a case that is now
*solved*, on a channel the policy surveys (``surveys:`` in the metrics YAML), this
module writes the invitation (:func:`~somebound.metrics.surveys.survey_invitation`, in
the case's language, with a signed link) and sends it like an agent's reply: privately,
to the customer's latest message, through the channel sender.

**Never twice for the same case.** The claim is made in one transaction that first
touches the case row (an UPDATE takes the row lock on PostgreSQL and the write lock on
SQLite, so two concurrent solves serialise), then looks for an earlier survey message
or ``survey_sent`` event, and only then inserts the outgoing message marked
``delivery: sending``. The channel is called after that commit; the ``survey_sent``
event is appended once the channel accepted it. A crash between the two leaves the
"sending" message as a visible trace and no second invitation; a channel that refused
marks it ``failed`` and the next solve may try again.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from somebound.core.enums import Bound, CaseStatus, Channel, EventType
from somebound.core.events import Event
from somebound.core.message import Author
from somebound.core.reply import Reply, Sender
from somebound.metrics.config import SurveyPolicy
from somebound.metrics.surveys import survey_invitation
from somebound.store import events as event_log
from somebound.store.base import utcnow
from somebound.store.tables import cases, events, messages

log = logging.getLogger(__name__)

SURVEY_META_KEY = "survey"  # messages.meta marker of an invitation: {"survey": "nps", ...}


@dataclass(frozen=True)
class DispatchResult:
    """What happened to one solved case; ``sent`` is True only for a new invitation."""

    case_id: int
    sent: bool
    reason: str
    message_id: int | None = None


def public_base_url(policy: SurveyPolicy, state: Any = None) -> str | None:
    """``app.state.public_base_url`` > ``$SOMEBOUND_PUBLIC_URL`` > the policy's base_url."""
    return (getattr(state, "public_base_url", None) or os.environ.get("SOMEBOUND_PUBLIC_URL")
            or policy.base_url)  # fmt: skip


def survey_secret(state: Any = None) -> str | None:
    """``app.state.survey_secret`` > ``$SOMEBOUND_SURVEY_SECRET`` (the link's HMAC key)."""
    return getattr(state, "survey_secret", None) or os.environ.get("SOMEBOUND_SURVEY_SECRET")


def send_survey(
    engine: Engine,
    senders: Mapping[Channel, Sender],
    case_id: int,
    policy: SurveyPolicy,
    *,
    secret: str | None,
    base_url: str | None,
    now: datetime | None = None,
) -> DispatchResult:
    """Invite the customer of solved case ``case_id`` to answer ``policy.kind``, once."""
    if not policy.send:
        return DispatchResult(case_id, False, "surveys are switched off in the policy")
    if not secret or not base_url:
        return DispatchResult(case_id, False, "no survey secret or public base URL configured")
    with engine.begin() as conn:
        # Touch the row first: from here on this transaction owns the case.
        touched = conn.execute(update(cases).where(cases.c.id == case_id)
                               .values(updated_at=cases.c.updated_at))  # fmt: skip
        if touched.rowcount == 0:
            return DispatchResult(case_id, False, "no such case")
        case = conn.execute(
            select(cases.c.channel, cases.c.status, cases.c.language, cases.c.customer_id,
                   cases.c.queue, cases.c.bound, cases.c.thread_key)
            .where(cases.c.id == case_id)
        ).one()  # fmt: skip
        if case.status != CaseStatus.SOLVED.value:
            return DispatchResult(case_id, False, f"case is {case.status}, not solved")
        if case.channel not in policy.channels:
            return DispatchResult(case_id, False, f"{case.channel} is not surveyed")
        channel = Channel(case.channel)
        sender = senders.get(channel)
        if sender is None:
            return DispatchResult(case_id, False, f"no sender for {channel.value}")
        if _already_invited(conn, case_id):
            return DispatchResult(case_id, False, "already invited")
        last_in = conn.execute(
            select(messages.c.native_id, messages.c.author_key, messages.c.author_name,
                   messages.c.subject, messages.c.meta)
            .where(messages.c.case_id == case_id, messages.c.direction == "in",
                   messages.c.kind != "note")
            .order_by(messages.c.sent_at.desc(), messages.c.id.desc()).limit(1)
        ).first()  # fmt: skip
        if last_in is None or not last_in.author_key:
            return DispatchResult(case_id, False, "no customer message to answer")
        body = survey_invitation(secret, case_id, policy.kind, base_url, case.language, now=now)
        sending_at = now or utcnow()
        msg_id = int(conn.execute(insert(messages).values(
            case_id=case_id, channel=channel.value, native_id=f"survey:{uuid.uuid4()}",
            direction="out", kind="message", agent_id=None, is_company=True,
            subject=_subject(last_in.subject), body=body, public=False, sent_at=sending_at,
            received_at=sending_at, attachments=[],
            meta={"delivery": "sending", SURVEY_META_KEY: policy.kind},
        )).inserted_primary_key[0])  # fmt: skip
    to = Author(channel_user_id=last_in.author_key, display_name=last_in.author_name,
                email=last_in.author_key if channel is Channel.EMAIL else None)
    reply = Reply(channel=channel, body=body, to=to, public=False,
                  in_reply_to=last_in.native_id, thread_key=case.thread_key,
                  subject=_subject(last_in.subject), meta=dict(last_in.meta or {}))  # fmt: skip
    try:
        result = sender.send(reply)
    except Exception as exc:  # a channel error must not undo the agent's status change
        with engine.begin() as conn:
            conn.execute(update(messages).where(messages.c.id == msg_id).values(
                meta={"delivery": "failed", SURVEY_META_KEY: policy.kind,
                      "error": str(exc)[:500]}))  # fmt: skip
        log.warning("survey for case %s not sent through %s: %s", case_id, channel.value, exc)
        return DispatchResult(case_id, False, f"{channel.value} refused: {exc}", msg_id)
    with engine.begin() as conn:
        conn.execute(update(messages).where(messages.c.id == msg_id).values(
            native_id=result.native_id, sent_at=result.sent_at,
            meta={"delivery": "sent", SURVEY_META_KEY: policy.kind, **result.meta}))
        event_log.append(conn, [Event(
            type=EventType.SURVEY_SENT, at=result.sent_at, case_id=case_id,
            customer_id=case.customer_id, message_id=msg_id, queue=case.queue,
            channel=channel, bound=Bound(case.bound), data={"kind": policy.kind},
        )])  # fmt: skip
    return DispatchResult(case_id, True, "sent", msg_id)


def _already_invited(conn: Any, case_id: int) -> bool:
    """An earlier invitation: a survey_sent event, or a survey message not marked failed."""
    if conn.execute(select(events.c.id).where(
            events.c.case_id == case_id, events.c.type == EventType.SURVEY_SENT.value
    ).limit(1)).first():  # fmt: skip
        return True
    metas = conn.execute(select(messages.c.meta).where(
        messages.c.case_id == case_id, messages.c.direction == "out")).scalars()
    return any(isinstance(m, dict) and m.get(SURVEY_META_KEY)
               and m.get("delivery") != "failed" for m in metas)  # fmt: skip


def _subject(subject: str | None) -> str | None:
    return f"Re: {subject}" if subject and not subject.lower().startswith("re:") else subject


def status_hook(app: Any, policy: Callable[[], SurveyPolicy]) -> Callable[[int, Any], None]:
    """The ``app.state.on_status_changed`` callback: survey solved cases, never raise.

    Chains to a hook that was installed before, so other domains can listen too.
    """
    previous = getattr(app.state, "on_status_changed", None)

    def on_status_changed(case_id: int, status: Any) -> None:
        if previous is not None:
            previous(case_id, status)
        if str(getattr(status, "value", status)) != CaseStatus.SOLVED.value:
            return
        st = app.state
        try:
            pol = policy()
            res = send_survey(st.engine, st.senders, case_id, pol, secret=survey_secret(st),
                              base_url=public_base_url(pol, st))  # fmt: skip
        except Exception:  # the status change already happened; log, don't fail it
            log.exception("survey dispatch for case %s failed", case_id)
            return
        log.info("survey for case %s: %s", case_id, res.reason)

    return on_status_changed
