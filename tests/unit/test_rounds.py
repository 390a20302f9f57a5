"""A watch's rounds go on after a round that raised, expected or not, each failure counted and logged."""

from __future__ import annotations

import logging
import threading

import pytest

from hq._rounds import Rounds


def test_a_failed_round_is_counted_and_logged_and_the_next_one_runs(caplog: pytest.LogCaptureFixture) -> None:
    calls, failures, third = [], [], threading.Event()

    def round() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise ConnectionError("the database is out of reach")
        if len(calls) == 2:
            raise KeyError("a bug")
        third.set()

    rounds = Rounds("test-rounds", 0.001, round, lambda: failures.append(1), logging.getLogger("test.rounds"),
                    "nothing watched this round", (ConnectionError,))
    with caplog.at_level(logging.ERROR, logger="test.rounds"):
        rounds.start()
        assert third.wait(10)
        rounds.stop()

    assert len(failures) == 2 and len(calls) >= 3
    assert caplog.records[0].getMessage() == "nothing watched this round: the database is out of reach"
    assert caplog.records[1].exc_info is not None and caplog.records[1].exc_info[0] is KeyError
