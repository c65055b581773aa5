"""The analysts' command line: `ews model ...`."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from ews.cli import main as ews_main
from ews.model_cli import register
from models.dataset import read_events_jsonl
from models.registry import Registry

ROOT = Path(__file__).resolve().parent.parent
# the evidence sections, small: three windows, a small other county, few resamples
FAST_EVIDENCE = ["--windows", "3", "--other-cases", "600", "--resamples", "40", "--no-handwritten"]


def model_cli(argv: list[str]) -> int:
    return ews_main(["model", *argv])


def test_register_adds_the_model_group_to_a_parser() -> None:
    parser = argparse.ArgumentParser(prog="ews")
    sub = parser.add_subparsers(dest="command")
    register(sub)
    args = parser.parse_args(["model", "promote", "v0003", "--reason", "better AP"])
    assert args.command == "model" and args.version == "v0003" and callable(args.func)
    with pytest.raises(SystemExit):
        parser.parse_args(["model", "promote"])  # a version is required


@pytest.mark.parametrize(
    "command", ["synth", "dataset", "train", "evaluate", "list", "promote", "rollback", "show"]
)
def test_every_command_has_help(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        model_cli([command, "--help"])
    assert exit_.value.code == 0
    assert len(capsys.readouterr().out) > 200


def test_list_tells_an_empty_registry_from_a_folder_that_is_not_there(tmp_path, capsys) -> None:
    assert model_cli(["list", "--model-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "no models in" in out and "ews model train" in out
    assert model_cli(["list", "--model-dir", str(tmp_path / "typo")]) == 1
    out = capsys.readouterr().out
    assert "没有这个文件夹" in out and "--model-dir or EWS_MODEL_DIR" in out
    assert not (tmp_path / "typo").exists()  # nothing is made where the analyst mistyped


def test_train_on_nothing_generates_a_county_and_saves_a_version(tmp_path, capsys) -> None:
    models = tmp_path / "models"
    code = model_cli(
        [
            "train",
            "--cases",
            "1200",
            "--no-kafka",
            "--quiet",
            "--model-dir",
            str(models),
            *FAST_EVIDENCE,
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    assert "generating a synthetic county of 1200 cases" in captured.err
    assert "saved model v0001" in captured.out and "ews model promote v0001" in captured.out
    folder = Registry(models).path("v0001")
    assert (folder / "card.md").exists() and (folder / "reliability.png").exists()
    assert model_cli(["list", "--no-kafka", "--model-dir", str(models)]) == 0
    assert "v0001" in capsys.readouterr().out
    assert model_cli(["show", "v0001", "--model-dir", str(models)]) == 0
    assert '"average_precision"' in capsys.readouterr().out
    code = model_cli(
        [
            "evaluate",
            "--cases",
            "1200",
            "--seed",
            "7",
            "--no-kafka",
            "--quiet",
            "--model-dir",
            str(models),
            *FAST_EVIDENCE,
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "candidate v0001" in out and "rules only" in out
    assert "## Rolling windows (3 consecutive test windows)" in out
    assert "## Out of template: the other county" in out
    assert "the saved version as it is" in out  # evaluate scores the version, it does not refit
    assert (models / "reports" / "v0001-vs-rules" / "card.md").exists()
    code = model_cli(
        ["backtest", "--cases", "600", "--no-kafka", "--quiet", "--model-dir", str(models)]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "# Backtest: v0001 against rules alone" in out and "lead time" in out
    folder = models / "reports" / "backtest-v0001-vs-rules"
    assert (folder / "backtest.md").exists() and (folder / "alerts_per_week.png").exists()


def test_synth_writes_events_that_replay(tmp_path) -> None:
    events = tmp_path / "events.jsonl"
    records = tmp_path / "records.jsonl"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ews.cli",
            "model",
            "synth",
            "--cases",
            "60",
            "--quiet",
            "--events-out",
            str(events),
            "--records",
            str(records),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    replayed = list(read_events_jsonl(events))
    assert len({e.case_id for e in replayed}) == 60
    assert sum(1 for _ in records.open(encoding="utf-8")) >= 60


def test_an_empty_or_broken_log_is_one_line_of_error_not_a_traceback(tmp_path, capsys) -> None:
    empty, broken = tmp_path / "empty.jsonl", tmp_path / "broken.jsonl"
    empty.write_text("")
    broken.write_text('{"event_id": "e1", "case_\n')
    for events, said in ((empty, "no snapshots"), (broken, "not a JSON event")):
        argv = ["train", "--events", str(events), "--model-dir", str(tmp_path / "models")]
        assert model_cli(argv) == 1
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err


def test_a_model_is_trained_evaluated_and_promoted_under_the_policy_that_reads_its_records(
    tmp_path, capsys
) -> None:
    """--policy (else $EWS_RISK_POLICY) reads the records for training; a version trained
    under one lexicon is refused where another reads them, and so is a training set."""
    from domain.risk.policy import DEFAULT_POLICY, default_policy, load_policy

    wider = tmp_path / "wider.yaml"
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    wider.write_text(text.replace("close_window: 1", "close_window: 2"), encoding="utf-8")
    fingerprint = load_policy(wider).lexicon.fingerprint
    assert fingerprint != default_policy().lexicon.fingerprint
    models = tmp_path / "models"
    common = ["--cases", "900", "--no-kafka", "--quiet", "--model-dir", str(models)]
    assert model_cli(["train", *common, "--no-evidence", "--policy", str(wider)]) == 0
    assert Registry(models).metadata("v0001")["lexicon"] == fingerprint
    card = (Registry(models).path("v0001") / "card.md").read_text(encoding="utf-8")
    assert f"(lexicon {fingerprint})" in card
    capsys.readouterr()
    assert model_cli(["list", "--no-kafka", "--model-dir", str(models)]) == 0
    assert (
        "v0001" in (listed := capsys.readouterr().out)
        and "not usable here: trained under" in listed
    )
    assert model_cli(["evaluate", *common, "--no-evidence"]) == 1
    assert "another lexicon" in capsys.readouterr().err
    assert model_cli(["evaluate", *common, "--no-evidence", "--policy", str(wider)]) == 0
    capsys.readouterr()
    unreachable = ["--bootstrap", "127.0.0.1:9", "--model-dir", str(models)]
    assert model_cli(["promote", "v0001", *unreachable]) == 1  # refused before the broker
    assert "another lexicon" in capsys.readouterr().err
    dataset = tmp_path / "snapshots.jsonl"
    assert model_cli(["dataset", "--cases", "900", "--quiet", "--out", str(dataset)]) == 0
    capsys.readouterr()
    argv = ["train", "--dataset", str(dataset), "--no-kafka", "--quiet", "--no-evidence"]
    assert model_cli([*argv, "--model-dir", str(models), "--policy", str(wider)]) == 1
    assert "rebuild it" in capsys.readouterr().err


def test_a_training_set_is_trained_on_with_the_horizon_its_labels_were_built_with(
    tmp_path, capsys
) -> None:
    """A set labelled 45 days ahead trains a 45-day model (its card says so, and the split
    keeps 45 days between windows); asking for 30 on it is refused, as is a model evaluated on
    labels of another horizon, and snapshots 0 days apart."""
    import json

    events, ds, models = tmp_path / "ev.jsonl", tmp_path / "ds45.jsonl", tmp_path / "models"
    assert model_cli(["synth", "--cases", "900", "--quiet", "--events-out", str(events)]) == 0
    argv = ["dataset", "--events", str(events), "--horizon", "45", "--out", str(ds), "--quiet"]
    assert model_cli(argv) == 0
    capsys.readouterr()
    train = ["train", "--dataset", str(ds), "--no-kafka", "--quiet", "--no-evidence"]
    assert model_cli([*train, "--model-dir", str(models)]) == 0
    meta = Registry(models).metadata("v0001")
    assert meta["horizon_days"] == 45 and "within 45 days" in meta["label"]
    capsys.readouterr()
    assert model_cli([*train, "--model-dir", str(models), "--horizon", "30"]) == 2
    err = capsys.readouterr().err
    assert "has --horizon 45" in err and "Traceback" not in err
    assert Registry(models).versions() == ["v0001"]
    evaluate = ["evaluate", "v0001", "--events", str(events), "--no-kafka", "--quiet"]
    assert model_cli([*evaluate, "--horizon", "90", "--model-dir", str(models)]) == 2
    assert "model v0001 has --horizon 45" in capsys.readouterr().err
    ds30 = tmp_path / "ds30.jsonl"  # the default horizon, where the model says 45
    assert model_cli(["dataset", "--events", str(events), "--out", str(ds30), "--quiet"]) == 0
    evaluate = ["evaluate", "v0001", "--dataset", str(ds30), "--no-kafka", "--quiet"]
    assert model_cli([*evaluate, "--model-dir", str(models)]) == 2
    assert "and model v0001 45: build the set again with --horizon 45" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        model_cli(["dataset", "--events", str(events), "--every", "0", "--out", str(ds)])
    assert "must be more than 0 days" in capsys.readouterr().err
    assert json.loads(ds.with_name(ds.name + ".policy.json").read_text())["horizon_days"] == 45


def test_a_log_too_short_to_split_says_how_long_it_must_be(tmp_path, capsys) -> None:
    events = tmp_path / "ev.jsonl"
    argv = ["synth", "--cases", "200", "--days", "75", "--quiet", "--events-out", str(events)]
    assert model_cli(argv) == 0
    argv = ["train", "--events", str(events), "--no-kafka", "--quiet", "--no-evidence"]
    assert model_cli([*argv, "--model-dir", str(tmp_path / "models")]) == 1
    err = capsys.readouterr().err
    assert "not enough history" in err and "well over 200 days" in err
    assert "Traceback" not in err
    assert model_cli(["show", "v002", "--model-dir", str(tmp_path / "models")]) == 1
    assert "no version v002" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["synth", "--cases", "-5"], "--cases: not a whole number above zero: '-5'"),
        (["synth", "--days", "0"], "--days: not a whole number above zero: '0'"),
        (["synth", "--start", "garbage"], "--start: not a day like 2025-01-01: 'garbage'"),
        (["train", "--C", "0"], "--C: not a number above zero: '0'"),
        (["train", "--jobs", "0"], "--jobs: not a whole number above zero: '0'"),
        (["dataset", "--horizon", "-2"], "--horizon: must be more than 0 days"),
    ],
)
def test_a_value_no_run_can_use_is_a_usage_error_not_a_traceback(argv, says, capsys) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit) as exited:
        model_cli(argv)
    assert exited.value.code == 2
    assert says in capsys.readouterr().err
