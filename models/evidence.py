"""The evidence behind a model: rolling windows, data it was not shaped on, the text ablation.

``gather_evidence`` puts together what the model card and ``ews model evaluate`` show beyond
the single test window:

* **rolling** on the main data: the training procedure refitted at several origins
  (``models.rolling``), the rules and the model in service on the same windows, figures with
  95% intervals from resampling cases, and the decision view per level on the pooled windows;
* **out of template**: the same on a county generated from the *other* story (its own
  phrasebook, coefficients, interactions and noise; ``models/STORY.md``), where the candidate
  is scored as it is, and the hand-written cases (``models.heldout``);
* **text ablation**: the same training with and without the text block, compared on the main
  test window and on the other county, paired by case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from domain.risk.features import timestamp
from domain.risk.policy import RiskPolicy, default_policy
from models.dataset import Snapshot
from models.levels import level_view
from models.registry import LoadedModel
from models.rolling import Scored, Scorer, base_rates, case_bootstrap, rolling_evaluation
from models.snapshot_table import case_codes, chain, features, labels, rule_scores, take
from models.train import test_window_start


@dataclass(frozen=True)
class EvidenceConfig:
    windows: int = 4  # consecutive test windows
    resamples: int = 200  # case resamples for the intervals
    other_cases: int = 3000  # size of the out-of-template county (0: none)
    other_seed: int = 7
    handwritten: bool = True


DEFAULT_EVIDENCE = EvidenceConfig()


def out_of_template_data(
    evidence: EvidenceConfig,
    horizon_days: float = 30.0,
    progress: bool = False,
    policy: RiskPolicy | None = None,
) -> tuple[list[Snapshot], list]:
    """The other county's snapshots (read under ``policy``) and the hand-written cases, as
    ``evidence`` asks."""
    from models.dataset import build_dataset
    from models.heldout import load_handwritten
    from models.workbench import synthetic_events

    other: list[Snapshot] = []
    if evidence.other_cases > 0:
        events = synthetic_events(evidence.other_cases, evidence.other_seed, progress, "other")
        other = build_dataset(events, horizon_days=horizon_days, progress=progress, policy=policy)
    return other, (load_handwritten() if evidence.handwritten else [])


def refit_scorer(config: Any, policy: RiskPolicy, red_earned: bool = False) -> Scorer:
    """The training procedure as a scorer: fit on the train rows, calibrate on the later ones,
    and choose the level cut-offs on both (red only if ``red_earned``), as training does."""
    from models.levels import choose_cutoffs
    from models.train import fit_calibrated

    def score(
        train: Sequence[Snapshot], cal: Sequence[Snapshot], test: Sequence[Snapshot]
    ) -> Scored:
        model = fit_calibrated(features(train), labels(train), features(cal), labels(cal), config)
        before = chain(train, cal)
        p_before = model.predict_proba(features(before))[:, 1]
        cutoffs = choose_cutoffs(before, p_before, policy, red_earned=red_earned)
        return model.predict_proba(features(test))[:, 1], cutoffs, None

    return score


def fixed_scorer(model: Any) -> Scorer:
    """A fitted model as a scorer (what lies before the window is not used)."""

    def score(
        train: Sequence[Snapshot], cal: Sequence[Snapshot], test: Sequence[Snapshot]
    ) -> Scored:
        return model.predict_proba(features(test))[:, 1], None, None

    return score


def rules_scorer(
    train: Sequence[Snapshot], cal: Sequence[Snapshot], test: Sequence[Snapshot]
) -> Scored:
    """The rules' score as a probability, calibrated on the slice before the window (for the
    Brier score and log-loss); they rank by their own score, as in training."""
    from models.train import rules_probability

    return rules_probability(cal, test), None, rule_scores(test)


def _rolling(
    rows: Sequence[Snapshot],
    scorers: dict[str, Scorer],
    cutoffs: dict[str, float | None],
    config: Any,
    evidence: EvidenceConfig,
    policy: RiskPolicy,
    progress: bool,
    not_before: float | None = None,
) -> dict[str, Any]:
    pairs = [("candidate", n) for n in scorers if n != "candidate"]
    try:
        found = rolling_evaluation(
            rows,
            scorers,
            windows=evidence.windows,
            horizon_days=config.horizon_days,
            resamples=evidence.resamples,
            pairs=pairs,
            cutoffs=cutoffs,
            not_before=not_before,
            progress=progress,
        )
    except ValueError as exc:  # too little data for the windows: said, not a crash
        return {"error": str(exc)}
    pooled_rows = found.pop("rows")
    found.pop("probabilities")
    levels = found.pop("levels")
    found["decision"] = level_view(pooled_rows, levels["candidate"], policy)
    return found


def text_ablation(
    train: Sequence[Snapshot],
    cal: Sequence[Snapshot],
    tests: dict[str, Sequence[Snapshot]],
    config: Any,
    resamples: int,
) -> dict[str, Any]:
    """The procedure with the text block on and off, fitted on the same windows, compared on
    each test set (paired: the same resampled cases for both)."""
    from models.train import fit_calibrated

    y_train, y_cal = labels(train), labels(cal)
    fitted = {
        name: fit_calibrated(
            features(train), y_train, features(cal), y_cal, replace(config, text_weight=w)
        )
        for name, w in (("text_on", 1.0), ("text_off", 0.0))
    }
    out: dict[str, Any] = {}
    before = chain(train, cal)
    for name, test in tests.items():
        if not len(test):
            continue
        y = labels(test)
        base, cat = base_rates(before, test)
        X = features(test)
        found = case_bootstrap(
            case_codes(test),
            y,
            {name: m.predict_proba(X)[:, 1] for name, m in fitted.items()},
            base,
            cat,
            resamples=resamples,
            pairs=[("text_on", "text_off")],
        )
        out[name] = {
            "average_precision": {
                n: found["scorers"][n]["average_precision"] for n in ("text_on", "text_off")
            },
            "difference": found["differences"]["text_on-text_off"]["average_precision"],
            "snapshots": found["snapshots"],
            "escalations": found["escalations"],
        }
    return out


def helps(ablation: dict[str, Any]) -> bool | None:
    """Whether the text block helps: its AP gain on the out-of-template county has an interval
    above zero (None: there was no other county to tell)."""
    if not ablation.get("other_county"):
        return None
    ci = ablation["other_county"].get("difference", {}).get("ci95")
    return bool(ci and ci[0] > 0)


def gather_evidence(
    rows: Sequence[Snapshot],
    model: Any,
    cutoffs: dict[str, float | None],
    config: Any,
    split: Any = None,
    in_service: LoadedModel | None = None,
    other_rows: Sequence[Snapshot] | None = None,
    handwritten: list | None = None,
    evidence: EvidenceConfig = EvidenceConfig(),
    refit: bool = True,
    test_from: str | None = None,
    progress: bool = False,
    policy: RiskPolicy | None = None,
) -> dict[str, Any]:
    """Everything above.  ``refit``: the candidate is the training procedure, refitted at every
    origin (training); otherwise the fitted ``model`` as it is (evaluating a saved version),
    scored only from ``test_from`` (the start of its own test window), and there is no text
    ablation.  ``policy``: the one the snapshots were read under (the packaged one unless
    given), for the cut-offs, the budget and the hand-written cases."""
    from models.heldout import score_handwritten

    policy = policy or default_policy()

    out: dict[str, Any] = {
        "config": {**evidence.__dict__, "other_snapshots": len(other_rows or [])},
        "refit": refit,
    }
    red_earned = cutoffs.get("red") is not None
    main: dict[str, Scorer] = {
        "candidate": refit_scorer(config, policy, red_earned) if refit else fixed_scorer(model),
        "rules": rules_scorer,
    }
    # a saved version is scored only after its own test window starts (nothing it was fitted
    # or calibrated on); the procedure refits before every window, so it can start earlier
    starts = [test_from] if (test_from and not refit) else []
    # the model in service, too, only where it was not fitted or calibrated: the windows start
    # no earlier than its own test window, or it is left out of the comparison
    served_from = test_window_start(in_service.metadata) if in_service is not None else None
    if served_from and timestamp(served_from) >= max(timestamp(r.as_of) for r in rows):
        out["in_service_left_out"] = f"its own test window starts {served_from[:10]}"
    elif in_service is not None:
        main["in_service"] = fixed_scorer(in_service.model)
        starts += [served_from] if served_from else []
    test_from = max(starts, key=timestamp) if starts else None
    not_before = timestamp(test_from) if test_from else None
    out["rolling"] = _rolling(rows, main, cutoffs, config, evidence, policy, progress, not_before)
    out["rolling"]["not_before"] = test_from
    out_of_template: dict[str, Any] = {}
    if other_rows:
        other: dict[str, Scorer] = {"candidate": fixed_scorer(model), "rules": rules_scorer}
        if in_service is not None:
            other["in_service"] = fixed_scorer(in_service.model)
        out_of_template["other_county"] = _rolling(
            other_rows, other, cutoffs, config, evidence, policy, progress
        )
    if handwritten:
        loaded = LoadedModel("candidate", model, {"level_cutoffs": cutoffs})
        out_of_template["handwritten"] = score_handwritten(
            handwritten, loaded, policy, resamples=evidence.resamples
        )
    out["out_of_template"] = out_of_template
    if not refit:
        return out
    train, cal = take(rows, split.train), take(rows, split.calibration)
    tests = {"main_test": take(rows, split.test), "other_county": other_rows or []}
    out["text_ablation"] = text_ablation(train, cal, tests, config, evidence.resamples)
    out["text_ablation"]["helps"] = helps(out["text_ablation"])
    out["text_ablation"]["text_weight"] = config.text_weight
    return out


def evidence_summary(found: dict[str, Any]) -> dict[str, Any]:
    """The headline figures of ``gather_evidence`` (kept in a version's metadata)."""

    def pooled(part: dict[str, Any] | None) -> dict[str, Any] | None:
        if not part or "pooled" not in part:
            return None
        p = part["pooled"]
        return {
            "scorers": {
                name: {m: f[m] for m in ("average_precision", "roc_auc", "bss") if m in f}
                for name, f in p["scorers"].items()
            },
            "differences": {
                pair: d["average_precision"] for pair, d in p.get("differences", {}).items()
            },
            "snapshots": p["snapshots"],
            "escalations": p["escalations"],
        }

    oot = found.get("out_of_template", {})
    hand = oot.get("handwritten")
    return {
        "rolling": pooled(found.get("rolling")),
        "other_county": pooled(oot.get("other_county")),
        "handwritten": None
        if not hand
        else {
            "cases": hand["cases"],
            "ranking": {
                n: {m: f[m] for m in ("average_precision", "roc_auc")}
                for n, f in hand["ranking"].items()
            },
            "levels": {n: v["same_level"] for n, v in hand["levels"].items()},
        },
        "text_helps": (found.get("text_ablation") or {}).get("helps"),
    }
