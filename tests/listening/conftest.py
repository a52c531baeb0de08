from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def enricher():
    from somebound.listening.enrich import default_enricher

    return default_enricher()
