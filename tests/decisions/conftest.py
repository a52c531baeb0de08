from __future__ import annotations

import pytest

from somebound.decisions.catalogue import demo_catalogue_path, load_catalogue


@pytest.fixture(scope="session")
def demo_catalogue():
    return load_catalogue(demo_catalogue_path())


@pytest.fixture()
def customer():
    """A customer every sales and retention rule of the demo catalogue lets through."""
    return {
        "age": 41, "segment": "gold", "tenure_months": 30, "churn_risk": 0.5, "monthly_spend": 55.0,
        "has_broadband": True, "has_mobile": True, "has_tv": True, "broadband_speed": 100,
        "region": "Uusimaa", "language": "fi", "overdue_days": 0, "opted_out": False,
        "consent_email": True, "consent_sms": True, "consent_call": True, "preferred_channel": "email",
        "data_usage_gb": 35.0, "contract_months_left": 2, "device_age_months": 30, "e_invoice": False,
        "last_nps": 9,
    }
