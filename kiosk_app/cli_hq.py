"""``kiosk hq``: HQ services."""

from __future__ import annotations

import click

from kiosk_app._signals import wait_for_signal


@click.group()
def hq() -> None:
    """HQ services."""



@hq.command("serve")
@click.option("--broker", required=True, help="Broker URL, mqtt://host:port.")
@click.option("--db", default="sqlite:///hq.sqlite", show_default=True, help="Profile database URL.")
@click.option("--worker-id", default="hq-ingest-1", show_default=True)
@click.option("--share-group", help="Share the subscription with other workers of this group.")
def hq_serve(broker: str, db: str, worker_id: str, share_group: str | None) -> None:
    """Ingest kiosk events into the profile database."""
    from backend_sync.hq import IngestWorker, ProfileStore

    store = ProfileStore(db)
    worker = IngestWorker(broker, store, worker_id=worker_id, share_group=share_group)
    worker.start()
    if not worker.subscribed.wait(30):
        raise click.ClickException(f"could not subscribe at {broker}")
    click.echo(f"HQ ingest ready ({broker} -> {db})")
    try:
        wait_for_signal()
    finally:
        worker.stop()
        store.close()
        click.echo(f"HQ ingest stopped: {worker.stats}")
