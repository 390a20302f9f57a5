"""Where a kiosk keeps its software releases, and the notes the supervisor and the kiosk it
runs leave each other there.

    <software>/objects/<sha256>         downloaded files of releases, by hash
    <software>/versions/<n>/site/       release n installed (its wheels, unpacked)
    <software>/current -> versions/<n>  the release to run (absent: the one installed with the kiosk)
    <software>/trial.json               a switch not yet proven: the release, the one before it, the window
    <software>/health.json              how far the release on trial got in its health check
    <software>/failed.json              the last release that failed its check, and why

The supervisor (``_supervisor``) is the kiosk's installed code and never changes with a
release; these files are the whole of what it and a release's code share, so their shape
stays the same from release to release.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from kiosk_protocol import PUBLIC, fsync_dir, write_atomically

SOFTWARE_DIR_ENV = "KIOSK_SOFTWARE_DIR"  # how the supervisor tells the kiosk where its releases are
SWITCH_EXIT = 75  # the kiosk ends with this to be started again on the release it switched to
HEALTH_PARTS = ("window", "reader", "broker", "self_test")


@dataclass(frozen=True)
class Trial:
    """A release switched to that has not yet proven itself."""

    release: int
    previous: int  # 0: the installed one
    health_window_s: int
    started: bool = False  # a supervisor has started it (a second start means the first one died)


@dataclass(frozen=True)
class Failure:
    """A release that failed its health check and was switched back from."""

    release: int
    reason: str
    at: str


class SoftwareSlots:
    """The files under one software folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.versions = root / "versions"
        self._current = root / "current"
        self._trial = root / "trial.json"
        self._health = root / "health.json"
        self._failed = root / "failed.json"
        # The window, the reader and the broker link each note their part from their own thread.
        self._noting = threading.Lock()

    def site(self, release: int) -> Path:
        """Where release ``release`` is installed."""
        return self.versions / str(release) / "site"

    @property
    def current(self) -> int:
        """The release to run (0: the installed one)."""
        if not self._current.is_symlink():
            return 0
        name = os.readlink(self._current).rsplit("/", 1)[-1]
        return int(name) if name.isdigit() else 0

    def point_current(self, release: int) -> None:
        """Make ``release`` the one to run, atomically (0: the installed one)."""
        if release == 0:
            self._current.unlink(missing_ok=True)
        else:
            pointer = self.root / "current.new"
            pointer.unlink(missing_ok=True)
            pointer.symlink_to(f"versions/{release}")
            os.replace(pointer, self._current)
        fsync_dir(self.root)

    def running(self, module_file: str) -> int:
        """The release whose code ``module_file`` (a module's ``__file__``) belongs to (0: the installed one)."""
        path = Path(module_file).resolve()
        versions = self.versions.resolve()
        if versions not in path.parents:
            return 0
        name = path.relative_to(versions).parts[0]
        return int(name) if name.isdigit() else 0

    def trial(self) -> Trial | None:
        """The switch on trial, if any."""
        data = _read(self._trial)
        return Trial(**data) if data else None

    def start_trial(self, trial: Trial) -> None:
        """Note a switch before ``current`` moves, so a kiosk that dies on it is switched back."""
        self._health.unlink(missing_ok=True)
        _write(self._trial, asdict(trial))

    def end_trial(self) -> None:
        """The release on trial passed, or was switched back from."""
        self._trial.unlink(missing_ok=True)
        self._health.unlink(missing_ok=True)
        fsync_dir(self.root)

    def health(self, release: int) -> tuple[str, ...]:
        """The parts of its health check release ``release`` has passed."""
        data = _read(self._health)
        return tuple(data.get("passed", ())) if data and data.get("release") == release else ()

    def passed(self, release: int, part: str) -> None:
        """Release ``release`` passed ``part`` of its health check."""
        with self._noting:
            done = self.health(release)
            if part not in done:
                _write(self._health, {"release": release, "passed": [*done, part]})

    def trouble(self, release: int, problem: str) -> None:
        """Release ``release`` found itself unwell: the supervisor need not wait for the window to end."""
        with self._noting:
            _write(self._health, {"release": release, "passed": list(self.health(release)), "problem": problem})

    def health_problem(self, release: int) -> str:
        """What release ``release`` found wrong with itself ("" if nothing)."""
        data = _read(self._health)
        return str(data.get("problem", "")) if data and data.get("release") == release else ""

    def fail(self, release: int, reason: str) -> None:
        """Note that ``release`` failed (kept until a newer failure replaces it)."""
        _write(self._failed, asdict(Failure(release, reason, datetime.now(UTC).isoformat(timespec="seconds"))))

    def failure(self) -> Failure | None:
        """The last release that failed here, if any."""
        data = _read(self._failed)
        return Failure(**data) if data else None


def _read(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # absent, or cut short by a power cut before its rename: as if never written
    return data if isinstance(data, dict) else None


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps(data).encode(), PUBLIC)
