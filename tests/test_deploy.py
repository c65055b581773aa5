"""docker-compose.yml runs the same stack as `ews worker` + `ews project` + the demo's helpers."""

from pathlib import Path

import yaml

from ews.processes import STAGES

ROOT = Path(__file__).resolve().parent.parent


def test_compose_runs_every_stage_the_clock_the_notifier_and_the_projector() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    commands = [tuple(s.get("command", ())) for s in services.values()]
    for stage in STAGES:
        assert ("worker", "--role", stage) in commands, stage
    for command in (("clock", "run"), ("notify",), ("project",), ("topics", "--grant")):
        assert command in commands, command
    assert services["web"]["command"][0] == "web" and "8080:8080" in services["web"]["ports"][0]
    assert services["kafka"]["image"] == "apache/kafka:4.1.1"
    for name in (*STAGES, "projector"):  # a supervisor can ask each whether it works
        assert services[name]["healthcheck"]["test"] == ["CMD", "ews", "health", "--part", name]
