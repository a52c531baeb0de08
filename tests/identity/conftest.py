"""Shared fixtures: an in-memory hub database and a hand-set match model.

The hand-set model keeps most tests free of Splink training (seconds each on a 2-core
box); the Splink agreement itself is tested in test_splink_agreement.py.
"""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool

import somebound.store.identity  # noqa: F401 - registers the identity tables
import somebound.store.tables  # noqa: F401
from somebound.identity import synthetic
from somebound.identity.comparisons import customer_spec
from somebound.identity.model import MatchModel
from somebound.identity.normalise import prepare_record
from somebound.store.base import metadata


def hand_model(prior: float = 1e-4) -> MatchModel:
    """Plausible m/u for the default spec (null level first, else last)."""
    name_m = (None, 0.85, 0.05, 0.03, 0.03, 0.02, 0.02)
    name_u = (None, 0.02, 0.005, 0.005, 0.01, 0.1, 0.86)
    return MatchModel(
        spec=customer_spec(),
        m=(
            name_m,
            name_m,
            (None, 0.9, 0.05, 0.05),
            (None, 0.9, 0.1),
            (None, 0.8, 0.05, 0.15),
            (None, 0.8, 0.2),
            (None, 0.85, 0.1, 0.05),
        ),
        u=(
            name_u,
            name_u,
            (None, 1e-5, 1e-4, 1 - 1.1e-4),
            (None, 1e-6, 1 - 1e-6),
            (None, 0.05, 0.01, 0.94),
            (None, 0.01, 0.99),
            (None, 1e-4, 1e-3, 1 - 1.1e-3),
        ),
        prior=prior,
    )


@pytest.fixture
def model() -> MatchModel:
    return hand_model()


@pytest.fixture
def people() -> list[synthetic.Person]:
    return synthetic.customers(300, seed=4)


@pytest.fixture
def master(people: list[synthetic.Person]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"unique_id": i + 1, **prepare_record(p.__dict__)} for i, p in enumerate(people)]
    )


@pytest.fixture
def engine():
    eng = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    metadata.create_all(eng)
    yield eng
    eng.dispose()
