"""The offset guard: an agent stops on a hole in its input partition, not on a redelivery."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from streams.app import OffsetGap, OffsetGuard


@dataclass
class Msg:
    topic: str
    partition: int
    offset: int


def feed(offsets: list[tuple[int, int]]) -> OffsetGuard:
    guard = OffsetGuard()
    guard.check_all(Msg("ews.case-events", p, o) for p, o in offsets)
    return guard


def test_consecutive_offsets_on_each_partition_pass() -> None:
    feed([(0, 5), (1, 0), (0, 6), (1, 1), (0, 7)])


def test_a_redelivery_after_a_seek_back_passes_and_goes_on() -> None:
    # read up to 9, the consumer seeks back to the committed 6: 6..10 come again, then 11
    feed([(0, o) for o in (*range(3, 10), *range(6, 12))])


def test_a_skipped_message_stops_the_agent() -> None:
    with pytest.raises(OffsetGap, match=r"case-events:0: offset 9 arrived after 7; 1 message"):
        feed([(0, 6), (0, 7), (0, 9)])


def test_a_jump_past_the_highest_after_a_seek_back_is_a_hole() -> None:
    with pytest.raises(OffsetGap):
        feed([(0, 5), (0, 6), (0, 7), (0, 3), (0, 4), (0, 9)])
