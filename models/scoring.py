"""Scoring case states: what the stream's scorer calls for every changed case and every tick.

    from models.scoring import score_cases
    found = score_cases(loaded_model, states, as_of, policy)

in batches (one call per batch is far cheaper than one per case).  Each ``Assessment``
(``domain.risk.assess``) carries the calibrated probability of escalation within the horizon,
the four-colour level, the rules that fired, the model version and the top factors in Chinese
and English.  The level's cut-offs are the model's own (chosen on its calibration window to keep
the duty desk's weekly budget, ``levels.choose_cutoffs``) or, for a model without them and for
rules alone, the policy's.  ``features_for`` is the same feature function the training set uses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from domain.case import CaseState
from domain.risk.assess import Assessment, case_moment, level_for
from domain.risk.features import as_datetime, case_features, read_records
from domain.risk.policy import RiskPolicy, default_policy
from domain.risk.rules import evaluate_rules
from models.estimator import base_model
from models.explain import explain_rows
from models.registry import LoadedModel, ModelRefused

CaseScore = Assessment  # the name earlier callers used
default_as_of = case_moment


def features_for(state: CaseState, as_of: dt.datetime | str | None = None) -> dict[str, Any]:
    """The model features of a case state (``as_of`` defaults to ``case_moment(state)``)."""
    return case_features(state, case_moment(state) if as_of is None else as_of)


def scored_under(model: LoadedModel, policy: RiskPolicy) -> LoadedModel:
    """``model``, if ``policy`` reads records with the lexicon it was trained on; else refused:
    its phrase counts would not mean what it learnt from them."""
    if unreadable := other_lexicon(model.metadata, policy):
        raise ModelRefused(
            f"model {model.version}: {unreadable}: retrain under it (`ews model train` reads "
            "$EWS_RISK_POLICY, or --policy FILE)"
        )
    return model


def other_lexicon(metadata: dict[str, Any], policy: RiskPolicy) -> str | None:
    """Why a version's phrase counts are not ``policy``'s (None if they are)."""
    trained = metadata.get("lexicon")
    if trained == policy.lexicon.fingerprint:
        return None
    return (
        f"trained under another lexicon, that of policy {metadata.get('policy_version', '?')} "
        f"({trained or 'not recorded'}), than the policy in force, {policy.version} "
        f"({policy.source}, {policy.lexicon.fingerprint})"
    )


def cutoffs_of(model: LoadedModel | None, policy: RiskPolicy) -> dict[str, float]:
    """The level cut-offs in force: the model's own if it has them, else the policy's."""
    own = model.metadata.get("level_cutoffs") if model is not None else None
    return dict(own) if own else dict(policy.levels)


def score_cases(
    model: LoadedModel | None,
    states: Sequence[CaseState],
    as_of: dt.datetime | str | Sequence[dt.datetime | str] | None = None,
    policy: RiskPolicy | None = None,
    explain: bool = True,
    top: int = 3,
) -> list[Assessment]:
    """Assess a batch of case states.  ``model`` None means rules only (no model in service).

    ``as_of``: one time for all, one per state, or None for each state's own latest moment.
    """
    policy = policy or default_policy()
    if as_of is None or isinstance(as_of, (str, dt.datetime)):
        times = [case_moment(s) if as_of is None else as_datetime(as_of) for s in states]
    else:
        times = [as_datetime(t) for t in as_of]
    known = [read_records(s, t, policy) for s, t in zip(states, times, strict=True)]
    rows = [case_features(s, t, policy, k) for s, t, k in zip(states, times, known, strict=True)]
    hits = [
        evaluate_rules(s, t, policy, alone=model is None, known=k)
        for s, t, k in zip(states, times, known, strict=True)
    ]
    if model is not None and rows:
        # explained: the design matrix is built once, for the probabilities and the factors
        X = base_model(model.model).design_matrix(rows) if explain else rows
        probs = model.model.predict_proba(X)[:, 1].tolist()
        factors = (
            explain_rows(model.model, rows, top, design=X, lexicon=policy.lexicon)
            if explain
            else [[] for _ in rows]
        )
    else:
        probs = [0.0] * len(rows)
        factors = [[] for _ in rows]
    cutoffs = cutoffs_of(model, policy)
    return [
        Assessment(
            case_id=s.case_id,
            as_of=t.isoformat(),
            probability=float(p),
            level=level_for(float(p), cutoffs, h),
            model_version=model.version if model is not None else None,
            rules=tuple(h),
            factors=tuple(fs),
        )
        for s, t, p, h, fs in zip(states, times, probs, hits, factors, strict=True)
    ]


def score_case(
    model: LoadedModel | None, state: CaseState, as_of: dt.datetime | str | None = None
) -> Assessment:
    """Score one case (prefer ``score_cases`` on batches)."""
    return score_cases(model, [state], as_of)[0]
