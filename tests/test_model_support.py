"""Shared, cached test data for the model tests: one small synthetic county per test session."""

from __future__ import annotations

from functools import lru_cache

from models.dataset import Snapshot, build_dataset
from models.snapshot_table import SnapshotTable
from models.synthetic import event_log, generate_county
from models.train import TrainConfig, TrainResult, train_and_evaluate
from schemas.events import Envelope

CASES = 1500


@lru_cache(maxsize=4)
def county_events(cases: int = CASES, seed: int = 2026) -> tuple[Envelope, ...]:
    return tuple(event_log(generate_county(cases, seed=seed)))


@lru_cache(maxsize=4)
def county_snapshots(cases: int = CASES, seed: int = 2026) -> tuple[Snapshot, ...]:
    return tuple(build_dataset(county_events(cases, seed)))


@lru_cache(maxsize=4)
def county_table(cases: int = CASES, seed: int = 2026) -> SnapshotTable:
    return build_dataset(county_events(cases, seed))


@lru_cache(maxsize=4)
def trained(cases: int = CASES, seed: int = 2026, C: float = 0.1) -> TrainResult:
    return train_and_evaluate(county_table(cases, seed), TrainConfig(C=C))
