"""The kiosk's supervisor against real child processes: a release that proves itself stays,
one that exits early, says it is unwell, never gets healthy or died on a previous start is
switched back from, with why, and a kiosk that switched is started again on its release.

Each release here is a folder on ``PYTHONPATH`` holding a small ``fake_kiosk`` module that
plays a kiosk's part through the files a real release writes (``_software_slots``)."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import pytest

from kiosk_app._software_slots import HEALTH_PARTS, SWITCH_EXIT, SoftwareSlots, Trial
from kiosk_app._supervisor import Supervisor
from testkit.waiting import eventually

FAKE_KIOSK = '''
import json, os, sys, time
from pathlib import Path

root = Path(os.environ["KIOSK_SOFTWARE_DIR"])
plan = json.loads((Path(__file__).parent / "plan.json").read_text())
release = plan["release"]
with open(root / "ran.log", "a") as ran:
    ran.write(f"{release}\\n")

def write(name, data):
    (root / f"{name}.new").write_text(json.dumps(data))
    os.replace(root / f"{name}.new", root / name)

if plan.get("passes") is not None:
    write("health.json", {"release": release, "passed": plan["passes"]})
if plan.get("trouble"):
    write("health.json", {"release": release, "passed": [], "problem": plan["trouble"]})
if plan.get("switch_to"):
    write("trial.json", {"release": plan["switch_to"], "previous": release, "health_window_s": 30})
    os.symlink(f"versions/{plan['switch_to']}", root / "current.new")
    os.replace(root / "current.new", root / "current")
    sys.exit(75)
if plan.get("hang"):
    (root / "hanging").touch()
    time.sleep(3600)
sys.exit(plan.get("exit", 0))
'''


def install(slots: SoftwareSlots, release: int, **plan: object) -> None:
    """Release ``release``: a fake kiosk that follows ``plan``."""
    site = slots.site(release)
    site.mkdir(parents=True)
    (site / "fake_kiosk.py").write_text(FAKE_KIOSK)
    (site / "plan.json").write_text(json.dumps({"release": release, **plan}))


def supervisor(slots: SoftwareSlots) -> Supervisor:
    return Supervisor(slots.root, [], command=[sys.executable, "-P", "-m", "fake_kiosk"])


def ran(slots: SoftwareSlots) -> list[int]:
    """The releases started, in order."""
    return [int(line) for line in (slots.root / "ran.log").read_text().split()]


@pytest.fixture
def slots(tmp_path: Path) -> SoftwareSlots:
    return SoftwareSlots(tmp_path / "software")


def on_trial(slots: SoftwareSlots, release: int, previous: int, window_s: int = 60) -> None:
    slots.start_trial(Trial(release, previous, window_s))
    slots.point_current(release)


def test_a_release_that_passes_every_part_of_its_check_stays(slots: SoftwareSlots) -> None:
    install(slots, 1)
    install(slots, 2, passes=list(HEALTH_PARTS))
    on_trial(slots, 2, previous=1)

    assert supervisor(slots).run() == 0

    assert ran(slots) == [2]
    assert slots.current == 2
    assert slots.trial() is None
    assert slots.failure() is None


def test_a_release_that_exits_before_it_is_healthy_is_switched_back(slots: SoftwareSlots) -> None:
    install(slots, 1)
    install(slots, 2, passes=["window"], exit=3)
    on_trial(slots, 2, previous=1)

    assert supervisor(slots).run() == 0

    assert ran(slots) == [2, 1]
    assert slots.current == 1
    assert slots.trial() is None
    failure = slots.failure()
    assert failure is not None and failure.release == 2
    assert failure.reason == "the kiosk exited with code 3 before it was healthy"


def test_a_release_that_finds_itself_unwell_is_switched_back_at_once(slots: SoftwareSlots) -> None:
    install(slots, 1)
    install(slots, 2, trouble="self-test tap: the emulated tag was not read", hang=True)
    on_trial(slots, 2, previous=1, window_s=3600)  # the window is never waited out

    assert supervisor(slots).run() == 0

    assert ran(slots) == [2, 1]
    failure = slots.failure()
    assert failure is not None and failure.reason == "self-test tap: the emulated tag was not read"


def test_a_release_not_healthy_within_its_window_is_stopped_and_switched_back(slots: SoftwareSlots) -> None:
    install(slots, 1)
    install(slots, 2, passes=["window", "reader"], hang=True)
    on_trial(slots, 2, previous=1, window_s=1)

    assert supervisor(slots).run() == 0

    assert ran(slots) == [2, 1]
    assert slots.current == 1
    failure = slots.failure()
    assert failure is not None and failure.reason == "not healthy within 1 s: no broker, self-test"


def test_a_kiosk_that_switched_is_started_again_on_its_new_release(slots: SoftwareSlots) -> None:
    install(slots, 1, switch_to=2)
    install(slots, 2, passes=list(HEALTH_PARTS), exit=0)
    slots.point_current(1)

    assert supervisor(slots).run() == 0

    assert ran(slots) == [1, 2]
    assert slots.current == 2
    assert slots.trial() is None


def test_a_trial_that_died_with_its_kiosk_is_given_up_before_it_starts_again(slots: SoftwareSlots) -> None:
    """A kiosk that lost power on a release on trial: the supervisor had already started it once."""
    install(slots, 1)
    install(slots, 2, passes=list(HEALTH_PARTS))
    slots.start_trial(Trial(2, 1, 60, started=True))
    slots.point_current(2)

    assert supervisor(slots).run() == 0

    assert ran(slots) == [1]
    failure = slots.failure()
    assert failure is not None and failure.release == 2
    assert failure.reason == "the kiosk stopped before it was healthy"


def test_a_switch_cut_short_before_current_moved_is_forgotten(slots: SoftwareSlots) -> None:
    install(slots, 1)
    slots.point_current(1)
    slots.start_trial(Trial(2, 1, 60))  # the kiosk lost power between the two steps of its switch

    assert supervisor(slots).run() == 0

    assert ran(slots) == [1]
    assert slots.trial() is None and slots.failure() is None


def test_a_kiosk_ending_other_than_by_a_switch_ends_the_supervisor_with_its_code(slots: SoftwareSlots) -> None:
    """systemd restarts the supervisor; the release stays current."""
    install(slots, 1, exit=1)
    slots.point_current(1)

    assert supervisor(slots).run() == 1
    assert ran(slots) == [1] and slots.current == 1


def test_stopping_the_supervisor_stops_the_kiosk(slots: SoftwareSlots) -> None:
    install(slots, 1, hang=True)
    slots.point_current(1)
    watched = supervisor(slots)
    code: list[int] = []
    running = threading.Thread(target=lambda: code.append(watched.run()))
    running.start()
    assert eventually((slots.root / "hanging").exists)  # the kiosk's own mark that it is up
    watched.stop()
    running.join()
    assert code and code[0] != SWITCH_EXIT and code[0] != 0  # ended by SIGTERM


def test_which_release_a_module_belongs_to(slots: SoftwareSlots) -> None:
    install(slots, 4)
    assert slots.running(str(slots.site(4) / "kiosk_app" / "_software.py")) == 4
    assert slots.running(__file__) == 0  # the installed software


def test_health_notes_of_another_release_are_not_read_as_this_ones(slots: SoftwareSlots) -> None:
    slots.passed(3, "window")
    slots.trouble(3, "no reader")
    assert slots.health(4) == ()
    assert slots.health_problem(4) == ""
    assert slots.health(3) == ("window",) and slots.health_problem(3) == "no reader"


def test_parts_noted_at_once_from_several_threads_are_all_kept(slots: SoftwareSlots) -> None:
    """The window, the reader and the broker link pass their parts from threads of their own."""
    start = threading.Barrier(len(HEALTH_PARTS))

    def note(part: str) -> None:
        start.wait()
        slots.passed(7, part)

    threads = [threading.Thread(target=note, args=(part,)) for part in HEALTH_PARTS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(slots.health(7)) == sorted(HEALTH_PARTS)
