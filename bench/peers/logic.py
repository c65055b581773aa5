"""The project's pure logic for one posted record, as the peers call it: ``domain.intake.admit``
then ``domain.case.handle_command``, nothing else.  The faust pipeline runs the same two
functions, in two stages with the commands topic between them."""

from __future__ import annotations

from dataclasses import dataclass

from domain.case import CaseState, handle_command
from domain.intake import Admitted, Posted, admit


@dataclass(frozen=True)
class Output:
    """A message to produce: a case event (keyed by case id) or a dead letter."""

    dead: bool
    key: bytes | None
    value: bytes
    case_id: str | None = None


def admitted(posted: Posted) -> tuple[str | None, Output | object]:
    """(case id, the command) for a valid record, (None, its dead letter) for a bad one."""
    outcome = admit(posted)
    if isinstance(outcome, Admitted):
        return outcome.command.case_id, outcome.command
    dead = outcome.dead_letter
    return None, Output(True, None, dead.to_bytes())


def step(state: CaseState | None, command: object) -> tuple[CaseState, list[Output]]:
    """The case's new state and its new events (``command``: a ``SubmitRecord``)."""
    case_id = command.case_id  # type: ignore[attr-defined]
    state, events = handle_command(state or CaseState(case_id=case_id), command)  # type: ignore[arg-type]
    return state, [Output(False, case_id.encode(), e.to_bytes(), case_id) for e in events]
