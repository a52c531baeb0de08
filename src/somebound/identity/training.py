"""Batch training with Splink (DuckDB by default, Spark for large bases).

This is the only module that talks to Splink. It trains the Fellegi-Sunter parameters
on the customer base (and on agents' labelled links when there are any) and hands back
a plain :class:`~somebound.identity.model.MatchModel` for the live scorer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from somebound.identity.comparisons import ModelSpec, to_splink_settings
from somebound.identity.model import MatchModel

Backend = Literal["duckdb", "spark"]
log = logging.getLogger(__name__)


@dataclass
class TrainingResult:
    model: MatchModel
    linker: Any  # the trained splink Linker, for batch predict()
    seconds: float


def _db_api(backend: Backend, spark: Any = None) -> Any:
    if backend == "duckdb":
        from splink import DuckDBAPI

        return DuckDBAPI()
    if backend == "spark":
        if spark is None:
            from pyspark.sql import SparkSession
            from splink.backends.spark import similarity_jar_location

            # Splink's string-similarity UDFs (jaro_winkler...) ship as a jar.
            spark = (
                SparkSession.builder.master("local[*]")
                .appName("somebound-link")
                .config("spark.jars", similarity_jar_location())
                .getOrCreate()
            )
        from splink import SparkAPI

        if not spark.sparkContext.getCheckpointDir():
            # Splink breaks Spark lineage with checkpoints; they need a directory.
            import tempfile

            spark.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="somebound-splink-"))
        return SparkAPI(spark_session=spark)
    raise ValueError(f"unknown backend {backend!r}: use 'duckdb' or 'spark'")


def build_linker(
    frames: pd.DataFrame | Sequence[pd.DataFrame],
    spec: ModelSpec,
    *,
    link_type: str | None = None,
    prior: float = 0.0001,
    backend: Backend = "duckdb",
    spark: Any = None,
    settings: Any = None,
) -> Any:
    """An untrained (or, with ``settings``, pre-trained) Splink linker over the frames.

    Frames need a ``unique_id`` column and the spec's columns (see
    :func:`somebound.identity.normalise.prepare_record`).
    """
    from splink import Linker

    frame_list = [frames] if isinstance(frames, pd.DataFrame) else list(frames)
    for i, df in enumerate(frame_list):
        missing = [c for c in ["unique_id", *spec.columns] if c not in df.columns]
        if missing:
            raise ValueError(f"input frame {i} lacks columns {missing}; use prepare_record()")
    if link_type is None:
        link_type = "dedupe_only" if len(frame_list) == 1 else "link_only"
    db_api = _db_api(backend, spark)
    if backend == "spark":
        sp = db_api.spark
        tables = [
            db_api.register(sp.createDataFrame(df), dataset_display_name=f"input_{i}")
            for i, df in enumerate(frame_list)
        ]
    else:
        tables = [
            db_api.register(df, dataset_display_name=f"input_{i}")
            for i, df in enumerate(frame_list)
        ]
    return Linker(
        tables if len(tables) > 1 else tables[0],
        settings if settings is not None else to_splink_settings(spec, link_type, prior),
        log_level=logging.WARNING,
    )


def train(
    frames: pd.DataFrame | Sequence[pd.DataFrame],
    spec: ModelSpec,
    *,
    labels: pd.DataFrame | None = None,
    prior: float | None = None,
    deterministic_recall: float = 0.7,
    max_pairs: float = 1e6,
    seed: int = 42,
    backend: Backend = "duckdb",
    spark: Any = None,
    min_em_pairs: int = 10,
) -> TrainingResult:
    """Train u by random sampling, m by EM on each training blocking rule, then labels.

    The prior lambda comes, in this order, from ``prior``, from the spec's deterministic
    rules (Splink's direct estimate with the given recall), or from the labels; else
    Splink's default 1e-4. Comparisons on columns that are empty in the data are
    dropped from the spec first, so the returned model's spec may be smaller.
    ``labels``: pairs agents confirmed, columns ``unique_id_l``, ``unique_id_r`` (and
    ``source_dataset_l/_r`` for two-frame linkage); they re-estimate m.
    """
    t0 = time.perf_counter()
    frame_list = [frames] if isinstance(frames, pd.DataFrame) else list(frames)
    filled = {c for c in spec.columns if any(c in df and df[c].notna().any() for df in frame_list)}
    spec = spec.restricted_to(filled)
    if not spec.comparisons:
        raise ValueError("no comparison column has any value in the training data")
    frames = frame_list
    linker = build_linker(frames, spec, backend=backend, spark=spark, prior=prior or 0.0001)
    if prior is None:
        n_records = sum(len(df) for df in frame_list)
        estimated = 0.0
        if spec.deterministic_rules:
            from splink import block_on

            try:
                linker.training.estimate_probability_two_random_records_match(
                    [block_on(*r) for r in spec.deterministic_rules], recall=deterministic_recall
                )
                estimated = float(linker._settings_obj._probability_two_random_records_match)
            except Exception:  # noqa: BLE001 - Splink raises plain errors on empty results
                estimated = 0.0
        if not 0.0 < estimated < 1.0:
            # A clean CRM base has no exact duplicates to count; then assume each new
            # record matches about one record of the base.
            linker._settings_obj._probability_two_random_records_match = 1.0 / max(n_records, 2)
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    from splink import block_on
    from splink.internals.exceptions import EMTrainingException

    trained_rules = 0
    for rule in spec.training_blocking_rules or spec.blocking_rules[:2]:
        if _rule_pairs(frame_list, rule) < min_em_pairs:
            continue  # checked up front: a failing EM session can leave Splink half-changed
        # Splink 5's EM session filters the live settings' comparisons before it can fail;
        # keep a copy to put back when it does.
        saved = linker._settings_obj.core_model_settings.copy()
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(*rule), estimate_without_term_frequencies=True
            )
            trained_rules += 1
        except (EMTrainingException, ValueError) as exc:
            # A rule with no pairs teaches nothing; EM collapsing to m = 0 (a base with no
            # duplicates at all) leaves the previous estimates in place.
            linker._settings_obj.core_model_settings = saved
            log.warning("EM on blocking rule %s skipped: %s", rule, str(exc).splitlines()[0])
            continue
    if not trained_rules and (labels is None or not len(labels)):
        raise ValueError(
            "no training blocking rule produced record pairs and there are no labels: "
            "the base is too small or too sparse to learn m-probabilities"
        )
    if labels is not None and len(labels):
        table = linker.table_management.register_table(labels, "__somebound_labels", overwrite=True)
        linker.training.estimate_m_from_pairwise_labels(table)
    model = MatchModel.from_splink(linker, spec)
    return TrainingResult(model=model, linker=linker, seconds=time.perf_counter() - t0)


def _rule_pairs(frames: Sequence[pd.DataFrame], rule: tuple[str, ...]) -> int:
    """How many record pairs a blocking rule yields over the stacked frames (upper bound)."""
    stacked = pd.concat([df[list(rule)] for df in frames], ignore_index=True).dropna()
    if stacked.empty:
        return 0
    sizes = stacked.groupby(list(rule)).size()
    return int((sizes * (sizes - 1) // 2).sum())


def splink_predict(linker: Any, threshold_match_probability: float | None = None) -> pd.DataFrame:
    """Splink's own scores for every blocked pair (the reference the live scorer meets)."""
    return linker.inference.predict(
        threshold_match_probability=threshold_match_probability, warning_mode="never"
    ).as_pandas_dataframe()
