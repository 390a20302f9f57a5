"""``kiosk hq rollout``: a software release sent to the fleet in stages (canary kiosks, a share
of each store's, every kiosk), driven by `kiosk hq serve --releases-dir`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from backend_sync import DB_URL_ENV, secret_url_option

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from hq._rollouts import Rollout, RolloutLog

    Change = Callable[[RolloutLog, Rollout, datetime], bool]


@click.group("rollout")
def rollout() -> None:
    """Software releases to the fleet, a stage at a time: canary kiosks, a share of each store's, then all."""


@rollout.command("start")
@click.argument("release", type=click.IntRange(1))
@click.option("--dir", "directory", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="HQ's publish directory, where `kiosk hq release publish` signed RELEASE.")
@click.option("--canary", "canaries", multiple=True, required=True, metavar="STORE/KIOSK",
              help="A kiosk the release goes to first (repeat for several).")
@click.option("--percent", type=click.IntRange(1, 100), required=True,
              help="The share of each store's kiosks (rounded up: at least one) of the second stage.")
@secret_url_option("db", DB_URL_ENV, "Profile database URL.", default="sqlite:///hq.sqlite")
def rollout_start(release: int, directory: Path, canaries: tuple[str, ...], percent: int, db: str) -> None:
    """Start rolling RELEASE out; `kiosk hq serve --releases-dir` sends it to the canary kiosks first."""
    from datetime import UTC, datetime

    from hq import HqError, ProfileStore, published_release
    from hq._rollouts import parse_kiosk

    store = ProfileStore(db)
    try:
        described = published_release(directory, release)
        started = store.rollouts.start(release, described.label, [parse_kiosk(c) for c in canaries], percent,
                                       datetime.now(UTC))
    except HqError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    click.echo(f"rollout of release {started.release} ({started.label}) started: first to "
               f"{', '.join(f'{s}/{k}' for s, k in started.canary)}")


@rollout.command("status")
@secret_url_option("db", DB_URL_ENV, "Profile database URL.", default="sqlite:///hq.sqlite")
def rollout_status(db: str) -> None:
    """The unfinished rollout, else the last: its stage, state and kiosks (as of the watch's last round)."""
    from hq import ProfileStore

    store = ProfileStore(db)
    try:
        current = store.rollouts.current()
    finally:
        store.close()
    if current is None:
        click.echo("no rollout yet")
        return
    click.echo("\n".join(status_lines(current)))


def status_lines(current: Rollout) -> list[str]:
    """A rollout as ``key: value`` lines."""
    counts = current.progress
    lines = [f"release: {current.release}", f"label: {current.label}", f"stage: {current.stage.value}",
             f"state: {current.state.value}",
             f"canary: {', '.join(f'{s}/{k}' for s, k in current.canary)}", f"percent: {current.percent}",
             "kiosks: " + (", ".join(f"{counts.get(name, 0)} {name.replace('_', ' ')}" for name in
                                     ("targets", "on_release", "failed", "waiting")) if counts
                           else "not yet looked at (is `kiosk hq serve --releases-dir` running?)"),
             f"stage started: {current.stage_started_at.isoformat(timespec='seconds')}",
             f"started: {current.created_at.isoformat(timespec='seconds')}"]
    if current.halted_reason:
        lines.append(f"halted: {current.halted_reason}")
    if current.left_out:
        lines.append(f"left out: {', '.join(f'{s}/{k}' for s, k in current.left_out)}")
    return lines


@rollout.command("halt")
@click.option("--reason", default="halted by staff", show_default=True, help="Why, as the dashboard shows it.")
@secret_url_option("db", DB_URL_ENV, "Profile database URL.", default="sqlite:///hq.sqlite")
def rollout_halt(reason: str, db: str) -> None:
    """Halt the running rollout: no kiosk gets the release any more, and those that do not run it yet
    are told it is not wanted."""
    _change(db, "halt", lambda log, current, now: log.halt(current, reason, now))


@rollout.command("resume")
@secret_url_option("db", DB_URL_ENV, "Profile database URL.", default="sqlite:///hq.sqlite")
def rollout_resume(db: str) -> None:
    """Resume the halted rollout at its stage, without the kiosks that switched back from the release;
    the stage's soak time starts again."""
    _change(db, "resume", lambda log, current, now: log.resume(current, now))


@rollout.command("abandon")
@secret_url_option("db", DB_URL_ENV, "Profile database URL.", default="sqlite:///hq.sqlite")
def rollout_abandon(db: str) -> None:
    """Finish the halted rollout where it stopped, to start another release's."""
    _change(db, "abandon", lambda log, current, now: log.abandon(current, now))


def _change(db: str, verb: str, act: Change) -> None:
    from datetime import UTC, datetime

    from hq import ProfileStore

    store = ProfileStore(db)
    try:
        current = store.rollouts.current()
        if current is None:
            raise click.ClickException(f"no rollout to {verb}")
        if not act(store.rollouts, current, datetime.now(UTC)):
            raise click.ClickException(f"the rollout of release {current.release} is {current.state.value}: "
                                       f"nothing to {verb}")
        now = store.rollouts.get(current.id)
    finally:
        store.close()
    assert now is not None
    click.echo(f"rollout of release {now.release} ({now.label}) {now.state.value} at its {now.stage.value} stage")
