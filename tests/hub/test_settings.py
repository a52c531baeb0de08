"""One settings object: every ``SOMEBOUND_<FIELD>`` means the same to the hub and the CLI,
a bad value names its variable, and the README's table is the list of fields."""

from __future__ import annotations

import json
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from somebound import cli
from somebound.api.app import create_app
from somebound.api.settings import Settings, SettingsError
from somebound.channels import samples
from somebound.channels.settings import ChannelSettings, env_name
from somebound.store.engine import DEFAULT_URL

README = Path(__file__).parents[2] / "README.md"
ROW = re.compile(r"^\| `(SOMEBOUND_[A-Z0-9_]+)` \| (.+?) \| .+ \|$")


def _shown_default(value: Any) -> str:
    """How the README's Default column writes a field's default."""
    if value is None:
        return "unset"
    if isinstance(value, tuple):
        return f"`{','.join(value)}`" if value else "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"


def test_readme_table_lists_exactly_the_settings_with_their_defaults() -> None:
    rows = [m.groups() for line in README.read_text("utf-8").splitlines()
            if (m := ROW.match(line))]
    names = [name for name, _ in rows]
    assert len(names) == len(set(names)), "a variable is listed twice"
    assert set(names) == set(Settings.env_vars())
    defaults = {env_name(f.name): _shown_default(f.default) for f in fields(Settings)}
    assert {name: shown for name, shown in rows} == defaults


def test_settings_object_ignores_the_environment_and_from_env_reads_it(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("SOMEBOUND_DATABASE_URL", "sqlite:////elsewhere.db")
    monkeypatch.setenv("SOMEBOUND_X_HANDLES", "a, b ,,c")
    monkeypatch.setenv("SOMEBOUND_PIPELINE_STAGES", "")
    assert Settings().database_url == DEFAULT_URL  # tests build settings explicitly
    got = Settings.from_env()
    assert got.database_url == "sqlite:////elsewhere.db"
    assert got.x_handles == ("a", "b", "c")
    assert got.pipeline_stages == ()  # empty means none for a list
    # the channel part reads the same variable under the same name
    assert ChannelSettings.from_env().x_handles == got.x_handles


def _write(path: Path, payload: dict) -> Path:
    path.write_text(json.dumps(payload), "utf-8")
    return path


def test_one_variable_configures_the_hub_and_the_cli_identically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``SOMEBOUND_X_HANDLES`` decides whether a tweet is addressed to the company and
    ``SOMEBOUND_DEFAULT_COUNTRY_CODE`` how a national number is read; the hub built from
    the environment and ``somebound channels parse-webhook`` must agree on both."""
    env = {
        "SOMEBOUND_DATABASE_URL": f"sqlite:///{tmp_path}/hub.db",
        "SOMEBOUND_BLOB_DIR": str(tmp_path / "blobs"),
        "SOMEBOUND_RUN_SMTP": "0",
        "SOMEBOUND_RUN_WORKER": "no",
        "SOMEBOUND_PIPELINE_STAGES": "",
        "SOMEBOUND_X_HANDLES": "somebound_fi",
        "SOMEBOUND_DEFAULT_COUNTRY_CODE": "46",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # a mention of a second brand account, not the webhook's own account id
    tweet = samples.x_tweet("77", "3001", "matti", "Matti", "@somebound_fi hei, apua?",
                            mentions=[("9999", "somebound_fi")])
    x_file = _write(tmp_path / "x.json", samples.x_webhook("2000", tweets=[tweet]))
    cti_file = _write(tmp_path / "cti.json", samples.cti_event("c1", "ringing", "0701234567"))

    app = create_app()
    try:
        hub = {ch: app.state.parsers[ch](path.read_bytes(), {})
               for ch, path in (("x", x_file), ("phone", cti_file))}
    finally:
        app.state.engine.dispose()
    assert hub["x"][0].addressed_to_company is True
    assert hub["phone"][0].author.phone == "+46701234567"

    from somebound.channels.serialize import message_to_dict

    for channel, path in (("x", x_file), ("phone", cti_file)):
        assert cli.main(["channels", "parse-webhook", channel, str(path)]) == 0
        printed = json.loads(capsys.readouterr().out)
        assert printed == [message_to_dict(m) for m in hub[channel]]

    # and without the variable both would say otherwise: the value came from it
    monkeypatch.setenv("SOMEBOUND_X_HANDLES", "")
    assert cli.main(["channels", "parse-webhook", "x", str(x_file)]) == 0
    assert json.loads(capsys.readouterr().out)[0]["addressed_to_company"] is False


@pytest.mark.parametrize("argv", [["serve"], ["worker", "--once"],
                                  ["channels", "parse-webhook", "x", "unused.json"]])
def test_a_bad_value_stops_hub_and_cli_naming_the_variable(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOMEBOUND_EMAIL_LISTEN_PORT", "abc")
    try:
        code = cli.main(argv)
    except SystemExit as stopped:
        code = stopped.code
    assert code == 2
    err = capsys.readouterr().err
    assert "SOMEBOUND_EMAIL_LISTEN_PORT='abc'" in err and "whole number" in err
    with pytest.raises(SettingsError, match="SOMEBOUND_EMAIL_LISTEN_PORT"):
        create_app()


@pytest.mark.parametrize(("name", "raw", "says"), [
    ("SOMEBOUND_SMTP_RELAY_PORT", "70000", "0–65535"),
    ("SOMEBOUND_RUN_WORKER", "maybe", "true or false"),
    ("SOMEBOUND_FEED_POLL_SECONDS", "soon", "a number"),
    ("SOMEBOUND_SMTP_PORT", "25", "SOMEBOUND_EMAIL_LISTEN_PORT"),  # renamed: says to what
    ("SOMEBOUND_GRAPH_BASE_URL", "http://x", "SOMEBOUND_FACEBOOK_GRAPH_URL"),
])
def test_bad_and_renamed_variables_are_refused_with_the_reason(name: str, raw: str,
                                                               says: str) -> None:
    with pytest.raises(SettingsError) as err:
        Settings.from_env({name: raw})
    assert name in str(err.value) and says in str(err.value)


# --- every value a field can hold survives the trip through its variable ---------------

_text = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
                min_size=1, max_size=20)
_item = _text.filter(lambda s: "," not in s)
_SPELLINGS = {True: ("1", "true", "YES", "On"), False: ("0", "false", "No", "OFF")}


def _value_and_text(field_type: Any) -> st.SearchStrategy[tuple[Any, str]]:
    if field_type is int:
        return st.integers(0, 65535).map(lambda v: (v, str(v)))
    if field_type is float:
        return st.floats(0, 1e6, allow_nan=False).map(lambda v: (v, repr(v)))
    if field_type is bool:
        return st.booleans().flatmap(
            lambda b: st.sampled_from(_SPELLINGS[b]).map(lambda s: (b, s)))
    if field_type == tuple[str, ...]:
        return st.lists(_item, max_size=4).map(lambda xs: (tuple(xs), " , ".join(xs)))
    assert field_type is str, field_type  # a new kind of field needs a strategy here
    return _text.map(lambda s: (s, s))


def _settings_env() -> st.SearchStrategy[tuple[dict[str, Any], dict[str, str]]]:
    from typing import get_type_hints

    from somebound.channels.settings import _base_type

    hints = get_type_hints(Settings)
    parts = {f.name: st.one_of(st.none(), _value_and_text(_base_type(hints[f.name])))
             for f in fields(Settings)}

    def split(chosen: dict[str, tuple[Any, str] | None]) -> tuple[dict, dict]:
        picked = {k: v for k, v in chosen.items() if v is not None}
        return ({k: v[0] for k, v in picked.items()},
                {env_name(k): f"  {v[1]} " for k, v in picked.items()})

    return st.fixed_dictionaries(parts).map(split)


@settings(max_examples=150, deadline=None)
@given(_settings_env())
def test_every_field_round_trips_through_its_variable(case: tuple[dict, dict]) -> None:
    values, environ = case
    assert Settings.from_env({**environ, "UNRELATED": "x"}) == Settings(**values)


def _is_int(raw: str) -> bool:
    """As the settings read it: the value stripped of whitespace (Unicode's, which takes
    control characters such as '\x1f' too) first."""
    try:
        int(raw.strip())
    except ValueError:
        return False
    return True


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=12))
def test_any_non_number_port_names_its_variable(raw: str) -> None:
    assume(raw.strip() and not _is_int(raw))  # int() also reads '1_0' and '١٢'
    with pytest.raises(SettingsError, match="SOMEBOUND_SMTP_RELAY_PORT"):
        Settings.from_env({"SOMEBOUND_SMTP_RELAY_PORT": raw})


@pytest.mark.parametrize("raw", ["-1", "two"])
def test_serve_refuses_a_worker_process_count_that_is_not_0_or_more(
        raw: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.build_parser().parse_args(["serve", "--worker-processes", raw])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "--worker-processes" in err and raw in err
