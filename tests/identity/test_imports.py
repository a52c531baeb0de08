"""Startup cost: the schema, the API app and the identity adapters load no data stack.

Every CLI start and every migration imports ``somebound.store.all_tables``; the API
imports ``somebound.api.app``. pandas (~0.5 s), Splink and DuckDB are needed only to
build the live index or to train, so identity imports them inside those functions.
Each check runs in a fresh interpreter: ``sys.modules`` of the test process already
holds everything other tests imported.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import hand_model

HEAVY = ("pandas", "splink", "duckdb")


def _heavy_after_import(*modules: str) -> list[str]:
    code = (
        "import importlib, json, sys\n"
        f"for m in {list(modules)!r}:\n"
        "    importlib.import_module(m)\n"
        f"print(json.dumps(sorted(m for m in {list(HEAVY)!r} if m in sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", ["somebound.store.all_tables", "somebound.api.app"])
def test_schema_and_app_import_neither_pandas_nor_splink(module):
    loaded = _heavy_after_import(module)
    assert "pandas" not in loaded and "splink" not in loaded, loaded


def test_identity_adapters_import_no_data_stack():
    # what the API router, the pipeline stage and the CLI load before any lookup
    assert (
        _heavy_after_import(
            "somebound.api.identity_routes",
            "somebound.identity.service",
            "somebound.identity.commands",
            "somebound.identity.resolver",
            "somebound.store.identity",
        )
        == []
    )


def test_the_data_stack_loads_when_the_index_is_built():
    # the lazy imports still happen where they are needed (a guard against the check
    # above passing because the modules no longer do anything)
    model = json.dumps(hand_model().to_dict())
    code = (
        "import json, sys\n"
        "from somebound.identity.model import MatchModel\n"
        "from somebound.identity.scorer import LiveScorer\n"
        "from somebound.store.identity import master_records\n"
        "import somebound.store.all_tables\n"
        "from somebound.store.base import metadata\n"
        "from sqlalchemy import create_engine\n"
        "before = 'pandas' in sys.modules\n"
        "e = create_engine('sqlite://')\n"
        "metadata.create_all(e)\n"
        "with e.connect() as c:\n"
        "    frame = master_records(c)\n"
        f"s = LiveScorer.build(MatchModel.from_dict(json.loads({model!r})), frame)\n"
        "print(before, type(frame).__module__.split('.')[0], len(s.index))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["False", "pandas", "0"]
