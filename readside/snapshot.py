"""A canonical dump of the read models, to check that two runs or a replay agree."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from readside.tables import READ_MODELS


def snapshot(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every read-model row, sorted, table by table (the projector's positions excluded)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in READ_MODELS:
            rows = conn.execute(sa.select(table)).all()
            out[table.name] = sorted(
                (tuple(_plain(v) for v in row) for row in rows), key=lambda r: repr(r)
            )
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    return value
