"""``kiosk hq alarms ...``: where each store's alarms go (a webhook, an e-mail address), and the
alarm log, raised and cleared (``_alarm_log``); `kiosk hq serve` raises, clears and sends them.

A webhook's signing secret goes to a file of its owner's only (``--secret-out``), never to the
terminal; the database URL comes from ``--db-url-file`` or ``$KIOSK_DB_URL``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

import click

from backend_sync import DB_URL_ENV, secret_url_option

if TYPE_CHECKING:
    from hq import ProfileStore
    from hq._alarm_log import Alarm, NoticeState

_DB_HELP = "Profile database URL (the one `kiosk hq serve` uses)."
SMTP_URL_ENV = "KIOSK_SMTP_URL"  # `kiosk hq serve --smtp`


@click.group("alarms")
def alarms() -> None:
    """Alarms (a kiosk offline in opening hours, its reader offline, a backlog, a failed update, a disk
    nearly full, a shopper's request nobody took), and the webhooks and e-mail addresses they go to."""


@alarms.command("add-route")
@click.option("--store", required=True, help="The store whose alarms go there, or '*' for every store's.")
@click.option("--webhook", "webhook_url", help="POST each alarm, raised and cleared, here (Standard Webhooks "
              "signed): https://..., or http:// to this host.")
@click.option("--secret-out", type=click.Path(dir_okay=False, path_type=Path),
              help="With --webhook: write its signing secret (whsec_...) to this new file, readable by its owner only.")
@click.option("--allow-http", is_flag=True, help="Take a plain http:// webhook on another host.")
@click.option("--email", help="Send each alarm, raised and cleared, to this address (`kiosk hq serve --smtp`).")
@secret_url_option("db", DB_URL_ENV, _DB_HELP, default="sqlite:///hq.sqlite")
def add_route(store: str, webhook_url: str | None, secret_out: Path | None, allow_http: bool, email: str | None,
              db: str) -> None:
    """Send STORE's alarms to a webhook or an e-mail address, from the next alarm on."""
    from hq import HqError
    from hq._webhooks import check_url, new_secret
    from kiosk_protocol import write_atomically

    if (webhook_url is None) == (email is None):
        raise click.UsageError("give --webhook or --email")
    if (webhook_url is None) != (secret_out is None):
        raise click.UsageError("--webhook and --secret-out go together")
    if secret_out is not None and secret_out.exists():
        raise click.ClickException(f"{secret_out} exists; a secret is never replaced by accident")
    with _opened(db) as profiles:
        try:
            if webhook_url is not None and secret_out is not None:
                check_url(webhook_url, allow_http=allow_http)
                secret = new_secret()
                write_atomically(secret_out, f"{secret}\n".encode())
                try:
                    route = profiles.alarms.add_route(store, webhook_url=webhook_url, secret=secret)
                except HqError:
                    secret_out.unlink(missing_ok=True)
                    raise
            else:
                route = profiles.alarms.add_route(store, email=email)
        except HqError as exc:
            raise click.ClickException(str(exc)) from exc
    kept = f"; its signing secret is in {secret_out}" if secret_out else ""
    click.echo(f"route {route.id}: alarms of {_store_words(store)} go to {route.target}{kept}")


@alarms.command("routes")
@secret_url_option("db", DB_URL_ENV, _DB_HELP, default="sqlite:///hq.sqlite")
def list_routes(db: str) -> None:
    """Every route, by id."""
    with _opened(db) as profiles:
        routes = profiles.alarms.routes()
    if not routes:
        click.echo("no alarm routes: alarms show on the dashboard only")
    for route in routes:
        click.echo(f"{route.id}\t{route.store}\t{'webhook' if route.webhook_url else 'email'}\t{route.target}")


@alarms.command("remove-route")
@click.argument("route_id", type=int)
@secret_url_option("db", DB_URL_ENV, _DB_HELP, default="sqlite:///hq.sqlite")
def remove_route(route_id: int, db: str) -> None:
    """Send no more alarms to ROUTE_ID; what it was still owed is dropped."""
    with _opened(db) as profiles:
        if not profiles.alarms.remove_route(route_id):
            raise click.ClickException(f"no alarm route {route_id} (see `kiosk hq alarms routes`)")
    click.echo(f"route {route_id} removed")


@alarms.command("retry")
@click.argument("alarm_id", type=int)
@secret_url_option("db", DB_URL_ENV, _DB_HELP, default="sqlite:///hq.sqlite")
def retry(alarm_id: int, db: str) -> None:
    """Send ALARM_ID's notices that were given up on (or still wait) again now, once a route is fixed."""
    with _opened(db) as profiles:
        count = profiles.alarms.retry_now(alarm_id)
    click.echo(f"{count} notice(s) of alarm {alarm_id} sent again" if count
               else f"alarm {alarm_id} has no notice left to send")


@alarms.command("list")
@click.option("--store", help="One store's alarms only.")
@click.option("--open", "open_only", is_flag=True, help="Only the alarms not yet cleared.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@secret_url_option("db", DB_URL_ENV, _DB_HELP, default="sqlite:///hq.sqlite")
def list_alarms(store: str | None, open_only: bool, limit: int, db: str) -> None:
    """The newest alarms first: when each was raised and cleared, and how its notices went."""
    with _opened(db) as profiles:
        found = profiles.alarms.history(store, limit, open_only=open_only)
        notices = profiles.alarms.notices_of([alarm.id for alarm in found])
    described = [_describe(alarm, notices.get(alarm.id, [])) for alarm in found]
    click.echo("\n".join(described) if described else "no alarms")


def _describe(alarm: Alarm, notices: list[NoticeState]) -> str:
    where = f"{alarm.key.store}/{alarm.key.kiosk}" if alarm.key.kiosk else alarm.key.store
    cleared = f"cleared {alarm.cleared_at:%Y-%m-%d %H:%M:%S} UTC" if alarm.cleared_at else "OPEN"
    lines = [f"{n.event.value} to route {n.route}: {n.state}, {n.attempts} attempt(s)"
             + (f" ({n.problem})" if n.problem and n.state != "sent" else "") for n in notices]
    return (f"#{alarm.id} {where} {alarm.key.kind.value}: {alarm.message} | raised {alarm.raised_at:%Y-%m-%d %H:%M:%S} "
            f"UTC, {cleared}" + "".join(f"\n    {line}" for line in lines))


def _store_words(store: str) -> str:
    from hq import EVERY_STORE

    return "every store" if store == EVERY_STORE else store


def _opened(db: str) -> contextlib.closing[ProfileStore]:
    """The profile store for one command, closed after it."""
    from hq import ProfileStore

    return contextlib.closing(ProfileStore(db))
