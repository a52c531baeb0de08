"""Malformed webhooks of every shape must end in ParseError, never in a crash."""

import contextlib
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from somebound.channels import facebook, x
from somebound.channels import samples as s
from somebound.channels.chat import parse_chat_frame
from somebound.channels.errors import ParseError
from somebound.channels.phone import parse_cti_event

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def _mutate(obj, path: list, value):
    """Replace the node at ``path`` (a list of keys/indexes) with ``value``."""
    if not path:
        return value
    key, rest = path[0], path[1:]
    if isinstance(obj, dict) and obj:
        k = list(obj)[key % len(obj)]
        return {**obj, k: _mutate(obj[k], rest, value)}
    if isinstance(obj, list) and obj:
        i = key % len(obj)
        return obj[:i] + [_mutate(obj[i], rest, value)] + obj[i + 1 :]
    return value


def _only_parse_errors(parse, payload) -> None:
    with contextlib.suppress(ParseError):
        parse(json.dumps(payload).encode())


FB = s.facebook_webhook(
    "1",
    changes=[s.facebook_comment("1", "1_2", "2_3", "9", "N", "hei", parent_id="2_1")],
    messaging=[s.messenger_message("1", "p", "m", "moi")],
)
X = s.x_webhook(
    "1",
    tweets=[s.x_tweet("5", "6", "u", "U", "hi", in_reply_to="4", mentions=[("1", "c")])],
    dms=[s.x_dm("7", "6", "1", "dm")],
    users={"6": {"name": "U"}},
)
CTI = s.cti_event("c", "ended", "0401234567", queue="q", wait_seconds=3)

paths = st.lists(st.integers(min_value=0, max_value=50), max_size=6)
fuzz = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fuzz
@given(path=paths, value=json_values)
def test_facebook_mutations(path, value):
    _only_parse_errors(facebook.parse_webhook, _mutate(FB, path, value))


@fuzz
@given(path=paths, value=json_values)
def test_x_mutations(path, value):
    _only_parse_errors(x.parse_webhook, _mutate(X, path, value))


@fuzz
@given(path=paths, value=json_values)
def test_cti_mutations(path, value):
    _only_parse_errors(parse_cti_event, _mutate(CTI, path, value))


@fuzz
@given(frame=json_values)
def test_chat_frames(frame):
    with contextlib.suppress(ParseError):
        parse_chat_frame("s", "v", frame)
