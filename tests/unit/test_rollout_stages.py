"""A rollout's stages as pure logic: which kiosks each stage sends the release to, in a
ranking fixed per release, and when a stage halts or gives way to the next."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from hq._rollout_stages import (
    Advance,
    Halt,
    Stage,
    assess,
    decide,
    percent_picks,
    rank,
    stage_targets,
)
from kiosk_protocol import KioskStatus

NOW = datetime(2026, 12, 14, 11, 0, tzinfo=UTC)
MADRID = [("madrid-centro", f"kiosk-{n:02}") for n in range(1, 11)]  # ten kiosks
SEVILLA = [("sevilla-nervion", f"kiosk-{n:02}") for n in range(1, 4)]  # three
MALAGA = [("malaga-larios", "kiosk-01")]  # one
FLEET = MADRID + SEVILLA + MALAGA
CANARY = [("madrid-centro", "kiosk-07")]


def status(key: tuple[str, str], **fields: object) -> KioskStatus:
    return KioskStatus.model_validate({"state": "online", "store": key[0], "kiosk": key[1], "at": NOW.isoformat(),
                                       **fields})


def test_a_kiosks_rank_is_the_hash_of_the_release_and_its_name() -> None:
    assert rank(7, ("madrid-centro", "kiosk-01")) == hashlib.sha256(b"7:madrid-centro/kiosk-01").hexdigest()


def test_each_store_sends_the_first_ceil_percent_of_its_kiosks_by_rank() -> None:
    picked = percent_picks(7, 25, FLEET)

    by_store = {store: sorted(k for s, k in picked if s == store) for store, _ in FLEET}
    assert {store: len(kiosks) for store, kiosks in by_store.items()} == {
        "madrid-centro": 3, "sevilla-nervion": 1, "malaga-larios": 1}  # ceil(2.5), ceil(0.75), ceil(0.25)
    first_three = sorted(MADRID, key=lambda key: rank(7, key))[:3]
    assert sorted(key for key in picked if key[0] == "madrid-centro") == sorted(first_three)
    assert percent_picks(7, 25, list(reversed(FLEET))) == picked  # whatever order the fleet is heard in
    assert percent_picks(8, 25, FLEET) != picked  # another release, another first few
    assert percent_picks(7, 100, FLEET) == set(FLEET)
    assert len(percent_picks(7, 1, FLEET)) == 3  # one a store, however small the share


def test_the_canary_stage_is_the_canary_kiosks_only_and_each_stage_keeps_the_ones_before() -> None:
    canary = stage_targets(7, Stage.CANARY, CANARY, 25, FLEET)
    percent = stage_targets(7, Stage.PERCENT, CANARY, 25, FLEET)
    everyone = stage_targets(7, Stage.ALL, CANARY, 25, FLEET)

    assert canary == set(CANARY)
    assert percent == set(CANARY) | percent_picks(7, 25, FLEET)
    assert everyone == set(FLEET) == stage_targets(7, Stage.DONE, CANARY, 25, FLEET)
    # A canary the fleet has not heard of yet is still sent the release: its retained message waits for it.
    assert stage_targets(7, Stage.CANARY, [("bilbao-gran-via", "kiosk-01")], 25, FLEET) == {
        ("bilbao-gran-via", "kiosk-01")}


def test_progress_counts_who_runs_it_who_switched_back_and_who_is_still_waiting() -> None:
    targets = MADRID[:5]
    statuses = {MADRID[0]: status(MADRID[0], software_release=7), MADRID[1]: status(MADRID[1], software_release=6),
                MADRID[4]: status(MADRID[4], software_release=7, software_on_trial=True),  # not proven yet
                MADRID[2]: status(MADRID[2], software_release=6, software_failed=7, software_problem="crashed"),
                ("sevilla-nervion", "kiosk-01"): status(("sevilla-nervion", "kiosk-01"), software_release=7)}

    progress = assess(7, targets, statuses)

    assert progress.on_release == {MADRID[0]}
    assert progress.failed == {MADRID[2]: "crashed"}
    assert progress.waiting == {MADRID[1], MADRID[3], MADRID[4]}  # MADRID[3] has never reported
    assert progress.counts() == {"targets": 5, "on_release": 1, "failed": 1, "waiting": 3}


@pytest.mark.parametrize(("running", "soaked_s", "expected"), [
    ([7, 7], 600, Advance(Stage.PERCENT)),
    ([7, 7], 599, None),  # not soaked long enough
    ([7, 6], 3600, None),  # one kiosk still on the old release
])
def test_a_stage_gives_way_once_every_kiosk_runs_it_for_the_soak_time(running: list[int], soaked_s: int,
                                                                       expected: object) -> None:
    targets = MADRID[:2]
    progress = assess(7, targets, {key: status(key, software_release=n) for key, n in zip(targets, running,
                                                                                          strict=True)})

    assert decide(7, Stage.CANARY, progress, NOW - timedelta(seconds=soaked_s), NOW,
                  timedelta(seconds=600)) == expected


def test_one_kiosk_switching_back_halts_the_rollout_naming_it_and_its_problem() -> None:
    targets = MADRID[:3]
    progress = assess(7, targets, {
        MADRID[0]: status(MADRID[0], software_release=7),
        MADRID[1]: status(MADRID[1], software_failed=7, software_problem="no heartbeat from the window in 180 s"),
        MADRID[2]: status(MADRID[2], software_failed=7)})

    decision = decide(7, Stage.ALL, progress, NOW - timedelta(days=1), NOW, timedelta(seconds=0))

    assert decision == Halt("madrid-centro/kiosk-02 switched back from release 7: no heartbeat from the window "
                            "in 180 s (and 1 more kiosk)")


def test_the_last_stage_ends_the_rollout() -> None:
    progress = assess(7, MADRID[:1], {MADRID[0]: status(MADRID[0], software_release=7)})

    assert decide(7, Stage.ALL, progress, NOW, NOW, timedelta(0)) == Advance(Stage.DONE)
    assert decide(7, Stage.DONE, progress, NOW, NOW, timedelta(0)) is None
