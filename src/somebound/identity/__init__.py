"""Identity resolution: who is this author, which customer records are the same person.

Pure core (normalise, comparisons, model, scorer, bands, resolver, survivorship,
importer) plus thin adapters: ``training`` (Splink), ``service`` (the store and the live
index), ``commands`` (CLI). See docs/identity.md.
"""

from somebound.identity.bands import Thresholds
from somebound.identity.model import MatchModel
from somebound.identity.resolver import IdentityCandidate, Resolution, Resolver

__all__ = ["IdentityCandidate", "MatchModel", "Resolution", "Resolver", "Thresholds"]
