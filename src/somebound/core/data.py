"""Where the shared training/test data lives (never committed into this repo)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]


def shared_data_dir() -> Path:
    """``$SOMEBOUND_DATA_DIR`` or ``../shared/data`` beside the checkout."""
    env = os.environ.get("SOMEBOUND_DATA_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"
