"""``kiosk enrol``: a new kiosk takes its place in the fleet from a code staff approve (``_enrol``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click


@click.command("enrol")
@click.option("--hq", "hq_url", required=True, help="HQ's address, https://hq.example.com.")
@click.option("--hq-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="The certificate (or its CA) HQ's address serves, shipped with the install: no other is trusted.")
@click.option("--settings-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("/etc/kiosk"),
              show_default=True, help="Where the kiosk's settings go (broker.url, its CA, HQ's key, enrolled.env).")
@click.option("--window", is_flag=True, help="Show the code full screen (as kiosk-enrol.service runs it, in cage).")
@click.option("--poll", "poll_s", type=click.FloatRange(0.05, 60), default=2.0, show_default=True,
              help="Seconds between asking HQ whether the code was approved.")
def enrol(hq_url: str, hq_cert: Path, settings_dir: Path, window: bool, poll_s: float) -> None:
    """Enrol this kiosk: show a code for HQ's staff to approve, then take its settings."""
    from kiosk_app._enrol import EnrolmentFailed
    from kiosk_app._enrol import enrol as enrol_kiosk

    def show(code: str, expires_at: datetime) -> None:
        click.echo(f"Enrolment code: {code} (until {expires_at:%H:%M} UTC). Approve it on HQ's dashboard, "
                   "under Kiosks, Enrol a kiosk.")

    try:
        if window:
            from kiosk_app.ui.enrol_window import run_enrol_window

            enrolled = run_enrol_window(hq_url, hq_cert, settings_dir, poll_s)
        else:
            enrolled = enrol_kiosk(hq_url, hq_cert, settings_dir, show, poll_s)
    except EnrolmentFailed as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"enrolled as {enrolled.store}/{enrolled.kiosk}: settings in {enrolled.folder}")
