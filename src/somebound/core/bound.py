"""Inbound, outbound or somebound: who started the contact.

A private contact started by the customer is inbound; one the company started is
outbound. A public social thread is somebound unless the company's own account
started it *and* nobody but the company has spoken (then it is still the company's
broadcast, outbound). Once other authors join a public thread, nobody can say who
started the conversation that matters: it is somebound.
"""

from __future__ import annotations

from somebound.core.enums import Bound, Direction


def classify_bound(*, public: bool, first_direction: Direction) -> Bound:
    """Bound of a new case from its first message."""
    if public:
        return Bound.SOMEBOUND
    return Bound.INBOUND if first_direction is Direction.IN else Bound.OUTBOUND
