"""The model in service: follows the model-events topic and swaps models without a restart.

``ModelInService`` keeps one immutable ``LoadedModel`` reference.  ``apply(event)`` folds a
model event (``models.promotion.apply``); when the in-service version changes it loads the new
version from the registry (checked: sha256, trusted types and, given the policy in force,
the lexicon it was trained with: ``models.scoring.scored_under``) and replaces the reference in one
assignment, so a scoring call sees either the old model or the new one, never a mix.  A version
that cannot be loaded is refused, the old model stays, and ``last_error`` says why.

``start()`` runs a background consumer reading the topic from the first offset; ``score``
scores a batch of case states with whatever model is in service at the time of the call.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from domain.case import CaseState
from domain.risk.assess import Assessment, Assessor
from domain.risk.policy import RiskPolicy
from models.promotion import PROMOTED, InService, apply, decode
from models.registry import LoadedModel, ModelRefused, Registry
from models.scoring import CaseScore, score_cases, scored_under
from schemas.settings import KafkaAccess, client_args

log = logging.getLogger(__name__)


class ModelInService:
    def __init__(
        self,
        registry: Registry,
        bootstrap: str | KafkaAccess | None = None,
        topic: str = "ews.model-events",
        policy: RiskPolicy | None = None,
    ) -> None:
        self.registry = registry
        self.policy = policy  # given: a model trained under another lexicon is refused
        self.bootstrap = bootstrap
        self.topic = topic
        self.state = InService()
        self.last_error: str | None = None
        self._loaded: LoadedModel | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._changed = threading.Condition()
        self.caught_up = threading.Event()

    # ---- the pure part and the swap ---------------------------------------------------------
    @property
    def model(self) -> LoadedModel | None:
        return self._loaded

    @property
    def version(self) -> str | None:
        loaded = self._loaded
        return loaded.version if loaded is not None else None

    def apply(self, event: dict[str, Any]) -> bool:
        """Fold one model event; load and swap if the in-service version changed."""
        with self._lock:
            new_state = apply(self.state, event)
            self.state = new_state
            wanted = new_state.version
            if wanted is None or wanted == self.version:
                return False
            try:
                loaded = self.registry.load(wanted)
                _the_promoted_one(loaded, event)
                if self.policy is not None:
                    scored_under(loaded, self.policy)
            except ModelRefused as exc:
                self.last_error = str(exc)
                log.error("model %s not put in service: %s", wanted, exc)
                return False
            self._loaded = loaded  # one reference assignment: the atomic swap
            self.last_error = None
        with self._changed:
            self._changed.notify_all()
        log.info("model in service: %s", wanted)
        return True

    def score(self, states: Sequence[CaseState], **kwargs: Any) -> list[CaseScore]:
        """Score a batch of case states with the model in service now (rules only if none)."""
        return score_cases(self._loaded, states, **kwargs)

    def assessor(self, policy: RiskPolicy) -> Assessor:
        """The scoring stage's assessor: the model in service at each call, under ``policy``."""

        def assess(states: Sequence[CaseState], times: Sequence[dt.datetime]) -> list[Assessment]:
            return score_cases(self._loaded, states, times, policy)

        return assess

    def wait_for(self, version: str, timeout: float = 30.0) -> bool:
        """Block until ``version`` is in service (True) or the timeout passes (False)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.version != version:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.2))
        return True

    # ---- the edge: a background consumer ----------------------------------------------------
    def start(self, wait: float = 0.0) -> ModelInService:
        """Follow the topic in the background; with ``wait``, block up to that many seconds
        until the events that were on the topic at start have been applied."""
        if self.bootstrap is None:
            raise ValueError("ModelInService.start needs bootstrap servers")
        self._thread = threading.Thread(target=self._run, name="model-in-service", daemon=True)
        self._thread.start()
        if wait and not self.caught_up.wait(wait):
            log.warning("model events not read within %.0fs; scoring with what is known", wait)
        return self

    def _run(self) -> None:
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(
            **client_args(self.bootstrap),
            group_id=None,
            enable_auto_commit=False,
            client_id="ews-model-in-service",
        )
        try:
            tp = TopicPartition(self.topic, 0)
            consumer.assign([tp])
            consumer.seek_to_beginning(tp)
            end = consumer.end_offsets([tp])[tp]
            while not self._stop.is_set():
                if not self.caught_up.is_set() and consumer.position(tp) >= end:
                    self.caught_up.set()
                for messages in consumer.poll(timeout_ms=200).values():
                    for m in messages:
                        event = decode(m.value)
                        if event is not None:
                            self.apply(event)
        except Exception:  # keep serving the current model; say why following stopped
            log.exception("model-events consumer stopped")
        finally:
            consumer.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> ModelInService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _the_promoted_one(loaded: LoadedModel, event: dict[str, Any]) -> None:
    """Refuse a model whose file is not the one promoted: a registry on this machine may hold
    another model under the same version name (copied from another registry, retrained)."""
    promised = event.get("sha256") if event.get("event_type") == PROMOTED else None
    if promised and event.get("version") == loaded.version:
        found = loaded.metadata.get("sha256")
        if found != promised:
            raise ModelRefused(
                f"model {loaded.version}: this registry's file (sha256 {str(found)[:12]}...) is "
                f"not the one promoted (sha256 {promised[:12]}...); refusing to score with it"
            )
