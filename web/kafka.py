"""The web service's only way to change anything: messages to Kafka.  Records go to the records
topic (the pipeline's intake decides), officers' actions to the alert-commands topic, model
promotions to the model-events topic.  The service never writes a read model itself."""

from __future__ import annotations

from collections.abc import Sequence

from models.promotion import MODEL_KEY, InService, decode, encode, fold
from schemas.commands import AlertCommand, commands_to_bytes
from schemas.settings import Settings
from streams.log import append, read_from_start
from streams.post import post_messages


class KafkaGateway:
    def __init__(self, settings: Settings, client_id: str = "ews-web") -> None:
        self.settings, self.client_id = settings, client_id
        self.topics = settings.topics

    def post_records(self, messages: Sequence[tuple[bytes, list[tuple[str, bytes]]]]) -> int:
        """Post records with their headers; returns how many the broker acknowledged."""
        return post_messages(
            self.settings.kafka,
            self.topics.records,
            (body for body, _ in messages),
            headers=(heads for _, heads in messages),
        )

    def send_alert_command(self, command: AlertCommand) -> None:
        append(
            self.settings.kafka,
            self.topics.alert_commands,
            command.case_id.encode(),
            commands_to_bytes([command]),
        )

    def in_service(self) -> InService:
        """Which model is in service: the fold of the model-events topic."""
        return fold(self.model_events())

    def model_events(self) -> list[dict]:
        messages = read_from_start(
            self.settings.kafka, self.topics.model_events, 15.0, self.client_id
        )
        return [e for m in messages if (e := decode(m.value)) is not None]

    def publish_model_event(self, event: dict) -> None:
        append(self.settings.kafka, self.topics.model_events, MODEL_KEY, encode(event))
