"""Identity resolution wired to the store: what the pipeline, API and CLI call.

:class:`IdentityService` owns the live scorer (the master in memory) and keeps it in step
with the writes it makes (imports add customers, merges and erasures remove them). It is
the object the API finds at ``app.state.identity`` and the pipeline's identify stage
calls: :meth:`IdentityService.resolve` only decides, :meth:`IdentityService.identify`
decides and records (link, review item, or nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, select

from somebound.identity.bands import Thresholds, recalibrate
from somebound.identity.comparisons import ModelSpec, customer_spec
from somebound.identity.importer import ImportBatch, read_customer_file
from somebound.identity.model import MatchModel
from somebound.identity.resolver import IdentityCandidate, Resolution, Resolver, normalise_key
from somebound.identity.scorer import LiveScorer
from somebound.identity.survivorship import SurvivorshipPolicy, load_policy
from somebound.store import identity as repo
from somebound.store.tables import customers, identities

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class IdentifyOutcome:
    identity_id: int
    resolution: Resolution
    review_item_id: int | None = None
    linked: bool = False


def _noop(stage: str, done: int, total: int) -> None:
    return None


class IdentityService:
    def __init__(
        self,
        engine: Engine,
        *,
        policy: SurvivorshipPolicy | None = None,
        model: MatchModel | None = None,
        thresholds: Thresholds | None = None,
        max_block: int = 1000,
        max_candidates: int | None = 500,
    ) -> None:
        self.engine = engine
        self.policy = policy or load_policy()
        self.max_block = max_block
        self.max_candidates = max_candidates
        if model is None:
            with engine.connect() as conn:
                loaded = repo.load_active_model(conn)
            if loaded is not None:
                model, stored = loaded
                thresholds = thresholds or stored
        self.model = model
        self.thresholds = thresholds or Thresholds()
        self.scorer: LiveScorer | None = None
        self.exact = repo.SqlExactKeys(engine)
        self.rebuild_index()

    # -- live scoring -----------------------------------------------------------------

    def rebuild_index(self) -> None:
        """Load the master into memory (call after bulk changes made elsewhere)."""
        if self.model is None:
            self.scorer = None
            return
        with self.engine.connect() as conn:
            frame = repo.master_records(conn)
        self.scorer = LiveScorer.build(
            self.model, frame, max_block=self.max_block, max_candidates=self.max_candidates
        )

    @property
    def resolver(self) -> Resolver:
        return Resolver(self.exact, self.scorer, self.thresholds)

    def resolve(self, identity: IdentityCandidate, *, conn: Connection | None = None) -> Resolution:
        """The pipeline seam: decide only (no writes).

        Pass ``conn`` when calling inside an open transaction (the pipeline's batch): the
        exact-key lookups then run on it instead of a second connection, which on SQLite
        would wait for the write lock the caller holds.
        """
        if conn is None:
            return self.resolver.resolve(identity)
        return Resolver(repo.SqlExactKeys(self.engine, conn), self.scorer, self.thresholds).resolve(
            identity
        )

    def identify(self, identity: IdentityCandidate, *, actor: str = "system") -> IdentifyOutcome:
        """Resolve and record: auto -> link, review -> queue item, none -> nothing.

        The identity row is created if needed. An identity already linked to a real
        customer is left alone (its link is the agent's or the customer's word).
        """
        key = normalise_key(identity.kind, identity.key)
        res = self.resolve(identity)
        with self.engine.begin() as conn:
            iid = identity.identity_id or repo.upsert_identity(
                conn,
                identity.kind,
                key,
                display_name=identity.display_name,
                handle=identity.handle,
                profile=dict(identity.profile),
            )
            current = repo.get_identity(conn, iid)["customer_id"]
            if current is not None and not repo.get_customer(conn, current)["provisional"]:
                return IdentifyOutcome(iid, res, None, False)
            if res.band == "auto" and res.customer_id is not None:
                evidence = "verified" if res.evidence in ("verified", "known") else "probabilistic"
                repo.link_identity(
                    conn,
                    iid,
                    res.customer_id,
                    evidence=evidence,
                    actor=actor,
                    score=res.score,
                    reason=res.explanation.get("rule"),
                    policy=self.policy,
                )
                return IdentifyOutcome(iid, res, None, True)
            if res.band == "review" and res.customer_id is not None:
                best = res.candidates[0] if res.candidates else None
                item = repo.enqueue_review(
                    conn,
                    kind="link",
                    identity_id=iid,
                    customer_id=res.customer_id,
                    probability=res.score,
                    match_weight=best.match_weight if best else None,
                    explanation=res.explanation,
                )
                return IdentifyOutcome(iid, res, item, False)
        return IdentifyOutcome(iid, res, None, False)

    # -- agent actions ------------------------------------------------------------------

    def link(
        self, identity_id: int, customer_id: int, *, actor: str, reason: str | None = None
    ) -> dict[str, Any]:
        with self.engine.begin() as conn:
            out = repo.link_identity(
                conn,
                identity_id,
                customer_id,
                evidence="agent",
                actor=actor,
                reason=reason,
                policy=self.policy,
            )
            repo.audit(
                conn,
                actor,
                "link",
                customer_id=customer_id,
                identity_id=identity_id,
                details={"reason": reason},
            )
        return out

    def unlink(self, identity_id: int, *, actor: str, reason: str | None = None) -> dict[str, Any]:
        with self.engine.begin() as conn:
            out = repo.unlink_identity(conn, identity_id, actor=actor, reason=reason)
            repo.audit(
                conn,
                actor,
                "unlink",
                customer_id=out["unlinked_from"],
                identity_id=identity_id,
                details={"reason": reason},
            )
        return out

    def decide(
        self, item_id: int, *, confirm: bool, actor: str, note: str | None = None
    ) -> dict[str, Any]:
        """An agent's verdict; afterwards the thresholds are recalibrated from all verdicts."""
        with self.engine.begin() as conn:
            out = repo.decide_review(
                conn, item_id, confirm=confirm, actor=actor, note=note, policy=self.policy
            )
            if out.get("merge_id"):
                merged = repo._row(conn, repo.customer_merges, out["merge_id"], "merge")
                self._forget(merged["merged_id"])
            new = recalibrate(repo.review_decisions(conn), self.thresholds)
            if new != self.thresholds:
                self.thresholds = new
                repo.update_thresholds(conn, new)
                out["thresholds"] = {"upper": new.upper, "lower": new.lower}
        return out

    def merge(
        self, survivor_id: int, merged_id: int, *, actor: str, reason: str | None = None
    ) -> int:
        with self.engine.begin() as conn:
            merge_id = repo.merge_customers(
                conn, survivor_id, merged_id, actor=actor, policy=self.policy, reason=reason
            )
            self._refresh(conn, survivor_id)
        self._forget(merged_id)
        return merge_id

    def unmerge(self, merge_id: int, *, actor: str) -> dict[str, Any]:
        with self.engine.begin() as conn:
            out = repo.unmerge(conn, merge_id, actor=actor)
            for cid in (out["survivor_id"], out["merged_id"]):
                self._refresh(conn, cid)
        return out

    def _forget(self, customer_id: int) -> None:
        if self.scorer is not None:
            self.scorer.index.remove(customer_id)

    def _refresh(self, conn: Any, customer_id: int) -> None:
        if self.scorer is None:
            return
        row = repo.get_customer(conn, customer_id)
        if row["merged_into_id"] is not None or row["erased"] or row["provisional"]:
            self.scorer.index.remove(customer_id)
        else:
            self.scorer.index.add(customer_id, repo.customer_match_record(row))

    # -- import, privacy ----------------------------------------------------------------

    def import_file(
        self, path: str | Path, *, source: str = "crm", actor: str = "import"
    ) -> tuple[ImportBatch, repo.ImportResult]:
        batch = read_customer_file(path)
        with self.engine.begin() as conn:
            result = repo.apply_import(conn, batch, policy=self.policy, source=source, actor=actor)
            for cid in result.customer_ids:
                self._refresh(conn, cid)
        return batch, result

    def export(self, customer_id: int, *, actor: str = "system") -> dict[str, Any]:
        with self.engine.begin() as conn:
            data = repo.export_customer(conn, customer_id)
            repo.audit(conn, actor, "export", customer_id=customer_id)
        return data

    def erase(self, customer_id: int, *, actor: str, reason: str) -> dict[str, Any]:
        with self.engine.begin() as conn:
            out = repo.erase_customer(conn, customer_id, actor=actor, reason=reason)
            ids = [
                customer_id,
                *conn.execute(
                    select(customers.c.id).where(customers.c.merged_into_id == customer_id)
                ).scalars(),
            ]
        for cid in ids:
            self._forget(cid)
        return out

    # -- batch: train, link, dedupe -------------------------------------------------------

    def training_frame(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Customers (``c<id>``) plus labelled identities (``i<id>``), and the match labels."""
        import pandas as pd

        with self.engine.connect() as conn:
            master = repo.master_records(conn)
            labels = (
                conn.execute(
                    select(repo.identity_labels).where(repo.identity_labels.c.is_match.is_(True))
                )
                .mappings()
                .all()
            )
            ident_ids = {r["identity_id"] for r in labels if r["identity_id"] is not None}
            ident_rows = (
                conn.execute(select(identities).where(identities.c.id.in_(list(ident_ids) or [-1])))
                .mappings()
                .all()
            )
        frame = master.assign(unique_id="c" + master["unique_id"].astype(str))
        extra = [
            {"unique_id": f"i{r['id']}", **_identity_candidate(r).match_record()}
            for r in ident_rows
        ]
        if extra:
            frame = pd.concat([frame, pd.DataFrame(extra)], ignore_index=True)
        pairs = []
        present = set(frame["unique_id"])
        for r in labels:
            left = f"c{r['customer_id']}"
            right = (
                f"i{r['identity_id']}"
                if r["identity_id"] is not None
                else f"c{r['other_customer_id']}"
            )
            if left in present and right in present:
                pairs.append(
                    {
                        "source_dataset_l": "input_0",
                        "unique_id_l": left,
                        "source_dataset_r": "input_0",
                        "unique_id_r": right,
                    }
                )
        return frame, pd.DataFrame(pairs)

    def train(
        self, *, spec: ModelSpec | None = None, backend: str = "duckdb", progress: Progress = _noop
    ) -> MatchModel:
        from somebound.identity.training import train

        progress("train", 0, 1)
        frame, labels = self.training_frame()
        if len(frame) < 20:
            raise ValueError(
                f"only {len(frame)} customers: too few to train a match model (need 20+); "
                "import the customer base first (somebound customers import FILE)"
            )
        result = train(
            frame, spec or customer_spec(), labels=labels if len(labels) else None, backend=backend
        )  # type: ignore[arg-type]
        self.model = result.model
        with self.engine.begin() as conn:
            repo.save_model(
                conn,
                result.model,
                self.thresholds,
                {"records": len(frame), "labels": len(labels), "seconds": round(result.seconds, 2)},
            )
        self._linker = result.linker
        self.rebuild_index()
        progress("train", 1, 1)
        return result.model

    def link_unlinked(
        self, *, actor: str = "somebound link", progress: Progress = _noop
    ) -> dict[str, int]:
        """Resolve every identity that has no customer (or only a provisional one)."""
        with self.engine.connect() as conn:
            rows = repo.unlinked_identities(conn)
        counts = {"auto": 0, "review": 0, "none": 0}
        for i, r in enumerate(rows, 1):
            out = self.identify(_identity_candidate(r), actor=actor)
            counts[out.resolution.band] += 1
            if i % 100 == 0 or i == len(rows):
                progress("link", i, len(rows))
        return counts

    def dedupe(self, *, progress: Progress = _noop, backend: str = "duckdb") -> int:
        """Batch dedupe of the master with Splink; pairs at or above ``lower`` go to review."""
        from somebound.identity.training import build_linker, splink_predict

        if self.model is None:
            raise ValueError("no trained model: run training first (somebound link)")
        with self.engine.connect() as conn:
            master = repo.master_records(conn)
        if len(master) < 2:
            return 0
        progress("dedupe", 0, 1)
        settings = _settings_from_model(self.model)
        linker = build_linker(
            master,
            self.model.spec,
            backend=backend,  # type: ignore[arg-type]
            settings=settings,
        )
        pairs = splink_predict(linker, threshold_match_probability=self.thresholds.lower)
        n = 0
        with self.engine.begin() as conn:
            for r in pairs.itertuples():
                repo.enqueue_review(
                    conn,
                    kind="merge",
                    customer_id=int(r.unique_id_l),
                    other_customer_id=int(r.unique_id_r),
                    probability=float(r.match_probability),
                    match_weight=float(r.match_weight),
                    explanation={"source": "splink batch dedupe"},
                )
                n += 1
        progress("dedupe", 1, 1)
        return n


def _identity_candidate(row: Any) -> IdentityCandidate:
    profile = dict(row["profile"] or {})
    return IdentityCandidate(
        kind=row["kind"],
        key=row["key"],
        display_name=row["display_name"],
        handle=row["handle"],
        email=profile.get("email"),
        phone=profile.get("phone"),
        profile=profile,
        identity_id=row["id"],
    )


def _settings_from_model(model: MatchModel) -> Any:
    """Splink settings carrying our trained m/u, so batch predict uses the same model."""
    from somebound.identity.comparisons import to_splink_settings

    creator = to_splink_settings(model.spec, "dedupe_only", model.prior)
    comps = []
    for comp_creator, m_row, u_row in zip(creator.comparisons, model.m, model.u, strict=True):
        d = comp_creator.get_comparison("duckdb").as_dict()
        for k, level in enumerate(d["comparison_levels"]):
            if k == 0:
                continue
            level["m_probability"] = m_row[k]
            level["u_probability"] = u_row[k]
        comps.append(d)
    creator.comparisons = comps
    return creator
