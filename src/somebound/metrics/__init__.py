"""somebound.metrics: KPIs, cost per contact and reach, NPS/CSAT, reports, warehouse export.

Everything is computed from the event log at query time; see :class:`Metrics`.
"""

from somebound.metrics.config import MetricsConfig, default_config, load_config, parse_config
from somebound.metrics.kpis import DIMENSIONS, Metrics, MetricsQueryError, compute_kpis
from somebound.metrics.yamlmarks import MetricsConfigError

__all__ = [
    "DIMENSIONS",
    "Metrics",
    "MetricsConfig",
    "MetricsConfigError",
    "MetricsQueryError",
    "compute_kpis",
    "default_config",
    "load_config",
    "parse_config",
]
