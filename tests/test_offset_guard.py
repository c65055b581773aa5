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


class Group:
    """The consumer's generation and the group's committed positions, as faust keeps them."""

    def __init__(self) -> None:
        self.generation = 1
        self.positions: dict[int, int] = {}

    def guard(self) -> OffsetGuard:
        return OffsetGuard(lambda: self.generation, lambda t, p: self.positions.get(p))


def test_after_a_rebalance_the_groups_position_says_where_to_go_on() -> None:
    # this process read 3..5 of partition 0; another process then handled 6..9 and committed
    # 10; this process gets the partition back in a later generation: 10 is no hole
    group = Group()
    guard = group.guard()
    guard.check_all(Msg("ews.case-events", 0, o) for o in (3, 4, 5))
    group.generation, group.positions[0] = 3, 10
    guard.check_all(Msg("ews.case-events", 0, o) for o in (10, 11))


def test_a_first_message_past_the_groups_position_is_a_hole() -> None:
    group = Group()
    group.positions[0] = 235  # the next offset to read
    guard = group.guard()
    with pytest.raises(OffsetGap, match=r"offset 239 arrived first, the group's position was 235"):
        guard.check(Msg("ews.case-commands", 0, 239))
    group.guard().check_all(Msg("ews.case-commands", 0, o) for o in (235, 236))  # as it should
