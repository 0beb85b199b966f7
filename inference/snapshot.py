"""The feed's precomputed scores: every candidate's place, score and reasons, held in columns.

What changes slowly (the candidates, their features, the champion) is turned once into a `FeedSnapshot`
by `build_snapshot`: the same `components.scoring.finalize.finalize_scores` as batch ``scores/``, the
reasons from the predictor's contributions, the control arm's heuristic order, and the fields the
filters read (12-month volatility, the main sector when the retrieval index has one). The day's intraday
values (`inference.intraday`) are aligned with its rows at each poll (`FeedSnapshot.with_intraday`). A
request then only filters and cuts (`FeedSnapshot.select`): NumPy masks over a thousand rows, no I/O.

A snapshot serialises to Arrow IPC (`to_ipc` / `from_ipc`): the score cache in Redis keeps the last
one, for a restart while the predictor or the online store is down.
"""

from __future__ import annotations

import io
import json
import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pyarrow as pa

from components.scoring.explanations import phrase, probability_reason, reasons
from components.scoring.finalize import STATUS_ESTABLISHED, STATUS_NEW, ScoringConstants, finalize_scores
from feature_repo.feature_schema import ENTITY_KEY
from inference.experiment import CONTROL, control_scores
from inference.feed_request import FeedRequest
from inference.intraday import IntradayColumns, IntradayValues, align, shown

RISK_FEATURE = "volatility_12m"  # what max_risk bounds
CONTROL_FEATURES = ("roi_since_inception", "tenure_days")  # the control arm's heuristic
FILTER_FEATURES = (RISK_FEATURE, *CONTROL_FEATURES)  # read beside the feed's feature service
SECTOR = "sector"  # an optional column of the retrieval index: an account's main sector
MAX_SECTOR_SHARE = 0.4  # diversity: at most this share of a feed from one sector (when sectors are known)
TOP_REASONS = 3
MODEL_RANKING = "model"  # the feed's ranking: the served model's scores
HEURISTIC_RANKING = "heuristic"  # the control heuristic: the control arm, or every viewer without a model


@dataclass(frozen=True)
class FeedSnapshot:
    """Every candidate of the feed, in the model's order, with what a request filters and shows.

    Attributes:
        columns: Arrays of one value per candidate, by name: account_id, score, confidence, status,
            probability_of_skill, fdr_pass, reasons, control_score, control_reasons, risk, sector.
        model_version: The predictor's model version that scored them (None: unknown).
        as_of_date: The features' as-of date.
        key: What the snapshot was built from (model version, index, materialisation), to know when
            it is out of date.
        built_at: Unix time of the build.
        degraded: Served while a newer snapshot could not be built, or restored from the cache.
        intraday: The day's fresh intraday values, aligned with the rows (None: none fresh).
        ranking: ``model``, or ``heuristic`` when no model could score (no champion has passed the
            gate, or the predictor is unreachable at start): every viewer then sees the heuristic.
    """

    columns: dict[str, np.ndarray]
    model_version: str | None
    as_of_date: str | None
    key: tuple = ()
    built_at: float = field(default_factory=time.time)
    degraded: bool = False
    intraday: IntradayColumns | None = None
    ranking: str = MODEL_RANKING

    def __post_init__(self):
        ids = self.columns[ENTITY_KEY]
        control = self.columns["control_score"]
        object.__setattr__(self, "position", {account: i for i, account in enumerate(ids)})
        object.__setattr__(self, "control_order", np.lexsort((ids.astype(str), -control)))
        object.__setattr__(self, "model_order", np.arange(len(ids)))
        object.__setattr__(self, "has_sectors", bool(len(ids)) and pd.notna(self.columns[SECTOR]).any())

    def __len__(self) -> int:
        return len(self.columns[ENTITY_KEY])

    def mark_degraded(self) -> FeedSnapshot:
        """The same snapshot, marked degraded (served in place of one that could not be built)."""
        return self if self.degraded else replace(self, degraded=True)

    def with_intraday(self, values: IntradayValues) -> FeedSnapshot:
        """The same snapshot with the intraday `values` of its candidates (a fresh read, or the last)."""
        return replace(self, intraday=align(values, self.columns[ENTITY_KEY]))

    def ranking_of(self, arm: str) -> str:
        """The ranking a viewer of `arm` is served: the heuristic in control or without a model."""
        return HEURISTIC_RANKING if arm == CONTROL or self.ranking == HEURISTIC_RANKING else MODEL_RANKING

    def select(self, request: FeedRequest, arm: str) -> np.ndarray:
        """Row numbers of the investors to show, best first: the arm's order, filtered, at most K.

        Raises:
            ValueError: The request filters by sector and the snapshot knows no sectors.
        """
        order = self.control_order if self.ranking_of(arm) == HEURISTIC_RANKING else self.model_order
        keep = np.ones(len(self), dtype=bool)
        if request.exclude_account_ids:
            rows = [self.position[a] for a in request.exclude_account_ids if a in self.position]
            keep[rows] = False
        if request.max_risk is not None:
            keep &= self.columns["risk"] <= request.max_risk  # an unknown risk never passes
        if self.intraday is not None:
            keep &= self.intraday.followable  # liquidated today: a copier would follow an empty portfolio
        if request.sectors:
            if not self.has_sectors:
                raise ValueError(
                    "this feed knows no sectors (the retrieval index has no sector column): drop sectors"
                )
            keep &= np.isin(self.columns[SECTOR], request.sectors)
        ranked = order[keep[order]]
        if self.has_sectors:
            return diversified(ranked, self.columns[SECTOR], request.top_k)
        return ranked[: request.top_k]

    def entries(self, rows: np.ndarray, arm: str) -> list[dict]:
        """The feed's investors at `rows`, ranked 1..n: the model's score, or the heuristic's in control,
        and what they did today (shown only: the order is never a day's return, which is mostly luck)."""
        c = self.columns
        control = self.ranking_of(arm) == HEURISTIC_RANKING
        score, why = (c["control_score"], c["control_reasons"]) if control else (c["score"], c["reasons"])
        return [
            {
                "rank": rank,
                "account_id": c[ENTITY_KEY][i],
                "score": _number(score[i]),
                "confidence": float(c["confidence"][i]),
                "status": c["status"][i],
                "probability_of_skill": _number(c["probability_of_skill"][i]),
                "fdr_pass": bool(c["fdr_pass"][i]),
                "reasons": list(why[i]),
                **shown(self.intraday, i),
            }
            for rank, i in enumerate(rows.tolist(), start=1)
        ]

    def to_ipc(self) -> bytes:
        """The snapshot as Arrow IPC bytes (its metadata in the schema)."""
        table = pa.table({name: pa.array(list(values)) for name, values in self.columns.items()})
        meta = {"model_version": self.model_version, "as_of_date": self.as_of_date, "ranking": self.ranking}
        meta |= {"key": list(self.key), "built_at": self.built_at}
        table = table.replace_schema_metadata({"skillrank": json.dumps(meta)})
        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return sink.getvalue()

    @classmethod
    def from_ipc(cls, data: bytes) -> FeedSnapshot:
        """A snapshot read back from `to_ipc` bytes, marked degraded (it was not built here and now)."""
        table = pa.ipc.open_stream(data).read_all()
        meta = json.loads(table.schema.metadata[b"skillrank"])
        columns = {name: _column(table[name]) for name in table.column_names}
        return cls(
            columns,
            meta["model_version"],
            meta["as_of_date"],
            tuple(meta["key"]),
            meta["built_at"],
            degraded=True,
            ranking=meta.get("ranking", MODEL_RANKING),
        )


def build_snapshot(
    candidates: pd.DataFrame,
    raw_scores: np.ndarray,
    contributions: np.ndarray,
    input_names: list[str],
    constants: ScoringConstants,
    *,
    model_version: str | None,
    as_of_date: str | None,
    key: tuple = (),
) -> FeedSnapshot:
    """Score, order and explain every candidate once.

    Args:
        candidates: One row per candidate: account_id, the scoring inputs, the model's inputs, the
            `FILTER_FEATURES` and, optionally, ``sector``.
        raw_scores: The predictor's scores, aligned with `candidates`.
        contributions: The predictor's feature contributions, one row per candidate, one column per
            name of `input_names`.
        input_names: The model's inputs, in the contributions' order.
        constants: The model version's scoring constants.
        model_version: Who scored.
        as_of_date: The features' date.
        key: What the snapshot is built from.

    Returns:
        The snapshot, its rows in the order of `finalize_scores`.
    """
    ranked = finalize_scores(candidates, raw_scores, constants=constants)
    where = pd.Index(candidates[ENTITY_KEY].astype(str)).get_indexer(ranked[ENTITY_KEY].astype(str))
    rows = candidates.iloc[where].reset_index(drop=True)
    values = contributions[where]
    features = rows[input_names].to_dict("records")
    probability = ranked["probability_of_skill"].to_numpy(dtype=float)
    no_skill_share = constants.skill_prior.no_skill_share
    explained = [
        tuple(investor_reasons(dict(zip(input_names, contribution, strict=True)), row, p, no_skill_share))
        for contribution, row, p in zip(values.tolist(), features, probability, strict=True)
    ]
    columns = {
        ENTITY_KEY: ranked[ENTITY_KEY].astype(str).to_numpy(dtype=object),
        "score": ranked["score"].to_numpy(dtype=float),
        "confidence": ranked["confidence"].to_numpy(dtype=float),
        "status": ranked["status"].to_numpy(dtype=object),
        "probability_of_skill": probability,
        "fdr_pass": ranked["fdr_pass"].to_numpy(dtype=bool),
        "reasons": _objects(explained),
    }
    return FeedSnapshot(columns | context_columns(rows), model_version, as_of_date, key)


def context_columns(rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """What every ranking shows and filters on: the control heuristic's score and reasons, risk, sector."""
    roi, tenure = (_optional(rows, name) for name in CONTROL_FEATURES)
    return {
        "control_score": control_scores(roi, tenure),
        "control_reasons": _objects([control_reasons(r, t) for r, t in zip(roi, tenure, strict=True)]),
        "risk": _optional(rows, RISK_FEATURE),
        SECTOR: rows[SECTOR].to_numpy(dtype=object) if SECTOR in rows else np.full(len(rows), None, object),
    }


def heuristic_snapshot(
    candidates: pd.DataFrame, *, min_track_record_days: int, as_of_date: str | None, key: tuple = ()
) -> FeedSnapshot:
    """The feed without a model: every candidate ranked by the control heuristic, marked ``heuristic``.

    Served when no model can score (no champion has passed the gate yet, or the predictor cannot be
    reached at start): the feed then shows what the platform would show without skillrank, and says
    so, rather than a challenger the gate refused or nothing at all. Nothing is claimed about skill:
    no probability of skill, no FDR flag.
    """
    days = np.nan_to_num(_optional(candidates, "track_record_days"), nan=0.0)
    n = len(candidates)
    columns = {
        ENTITY_KEY: candidates[ENTITY_KEY].astype(str).to_numpy(dtype=object),
        "score": np.full(n, np.nan),
        "confidence": np.zeros(n),
        "status": np.where(days >= min_track_record_days, STATUS_ESTABLISHED, STATUS_NEW).astype(object),
        "probability_of_skill": np.full(n, np.nan),
        "fdr_pass": np.zeros(n, dtype=bool),
        "reasons": _objects([() for _ in range(n)]),
    }
    return FeedSnapshot(
        columns | context_columns(candidates), None, as_of_date, key, ranking=HEURISTIC_RANKING
    )


def investor_reasons(
    contributions: dict[str, float], features: dict, probability: float, no_skill_share: float | None = None
) -> list[str]:
    """What moved an investor's score most, then its probability of skill (when its record allows one),
    saying how much of the platform shows no edge when that keeps the probability low.

    Example:
        >>> investor_reasons({"hhi": -0.01, "n_tickers": 0.0}, {"hhi": 0.95, "n_tickers": 1.0}, 0.874)
        ['concentrated in 1 stock lowered the score', 'probability of skill 87%']
    """
    probability_text = probability_reason(probability, no_skill_share)
    top = reasons(contributions, features, limit=TOP_REASONS)
    return top + ([probability_text] if probability_text else [])


def control_reasons(roi: float, tenure_days: float) -> tuple[str, ...]:
    """Why the heuristic ranks an investor where it does: its two inputs.

    Example:
        >>> control_reasons(0.25, 800.0)
        ('a return of +25% since inception', 'an account open for 2.2 years')
    """
    return (phrase("roi_since_inception", roi), phrase("tenure_days", tenure_days))


def diversified(ranked: np.ndarray, sectors: np.ndarray, k: int) -> np.ndarray:
    """The first `k` of `ranked`, at most ``ceil(MAX_SECTOR_SHARE · k)`` of one known sector.

    When too few other investors pass the filters, the feed is filled from the skipped ones in order.

    Example:
        >>> diversified(np.arange(5), np.array(["a", "a", "a", "b", None], dtype=object), 4)
        array([0, 1, 3, 4])
    """
    cap = max(1, math.ceil(MAX_SECTOR_SHARE * k))
    taken, skipped, counts = [], [], {}
    for row in ranked.tolist():
        sector = sectors[row]
        if sector is not None and counts.get(sector, 0) >= cap:
            skipped.append(row)
            continue
        counts[sector] = counts.get(sector, 0) + 1
        taken.append(row)
        if len(taken) == k:
            break
    return np.array((taken + skipped)[:k], dtype=np.int64)


def _optional(frame: pd.DataFrame, name: str) -> np.ndarray:
    return frame[name].to_numpy(dtype=float) if name in frame else np.full(len(frame), np.nan)


def _objects(values: list) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _number(value: float) -> float | None:
    return None if not math.isfinite(value) else float(value)


def _column(chunked: pa.ChunkedArray) -> np.ndarray:
    values = chunked.to_pylist()
    if pa.types.is_list(chunked.type):
        return _objects([tuple(v) for v in values])
    if pa.types.is_string(chunked.type) or pa.types.is_null(chunked.type):
        return np.array(values, dtype=object)
    return chunked.to_numpy()
