"""``kiosk hq webhooks ...``: the channels HQ calls with every change (``_webhooks``), and the
options of ``kiosk hq serve`` that say how hard it tries (``_delivery``).

The signing secret goes to a file of its owner's only (``--secret-out``), never to the
terminal; the database URL comes from ``--db-url-file`` or ``$KIOSK_DB_URL`` like every
``kiosk hq`` command's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from backend_sync import DB_URL_ENV, secret_url_option

if TYPE_CHECKING:
    from hq._webhooks import WebhookStatus

_Command = TypeVar("_Command", bound=Callable[..., Any])
_DB_HELP = "Profile database URL (the one `kiosk hq serve` uses)."


def delivery_options(command: _Command) -> _Command:
    """Add the webhook delivery options to ``kiosk hq serve``, given to it as ``webhook_policy``."""

    @functools.wraps(command)
    def with_policy(webhook_timeout: float, webhook_attempts: int, webhook_give_up_after: float,
                    **kwargs: Any) -> Any:
        from hq._delivery import DeliveryPolicy

        return command(webhook_policy=DeliveryPolicy(timeout_s=webhook_timeout, max_attempts=webhook_attempts,
                                                     give_up_after_s=webhook_give_up_after * 60), **kwargs)

    options = [
        click.option("--webhook-timeout", type=click.FloatRange(0.1), default=10.0, show_default=True,
                     help="Seconds a webhook's receiver has to answer an attempt, in all."),
        click.option("--webhook-attempts", type=click.IntRange(1), default=20, show_default=True,
                     help="Attempts at one change before it is parked (retries wait 5 s, doubling, at most 30 min)."),
        click.option("--webhook-give-up-after", type=click.FloatRange(0.01), default=24 * 60.0, show_default=True,
                     help="Minutes after its first attempt that a change still failing is parked."),
    ]
    wrapped: Callable[..., Any] = with_policy
    for option in reversed(options):
        wrapped = option(wrapped)
    return cast(_Command, wrapped)


@click.group("webhooks")
def webhooks() -> None:
    """Channels HQ calls with every change another channel made (Standard Webhooks), from `kiosk hq serve`."""


@webhooks.command("add")
@click.option("--channel", required=True, help="The channel the webhook is for (as in the API key file): it "
              "hears of every change but its own.")
@click.option("--url", required=True, help="Where HQ POSTs each change: https://..., or http:// to this host. "
              "No credentials in it: the receiver checks the signature.")
@click.option("--secret-out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Write the signing secret (whsec_...) to this new file, readable by its owner only.")
@click.option("--allow-http", is_flag=True, help="Take a plain http:// URL to another host (the changes and "
              "their signatures cross the network readable).")
@click.option("--api-keys", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="HQ's API key file: check that --channel is one of its channels.")
@secret_url_option("db", DB_URL_ENV, _DB_HELP, default="sqlite:///hq.sqlite")
def add(channel: str, url: str, secret_out: Path, allow_http: bool, api_keys: Path | None, db: str) -> None:
    """Have HQ call URL with every change made from now on that CHANNEL did not make."""
    from hq import HqError, ProfileStore, load_api_keys
    from hq._webhooks import check_url, new_secret
    from kiosk_protocol import write_atomically

    if secret_out.exists():
        raise click.ClickException(f"{secret_out} exists; a secret is never replaced by accident")
    try:
        check_url(url, allow_http=allow_http)
        if api_keys is not None and channel not in load_api_keys(api_keys).keys:
            raise click.ClickException(f"{api_keys} has no channel {channel!r}")
    except HqError as exc:
        raise click.ClickException(str(exc)) from exc
    store = ProfileStore(db)
    try:
        if store.webhooks.get(channel) is not None:
            raise click.ClickException(f"channel {channel!r} has a webhook already; remove it first")
        secret = new_secret()
        write_atomically(secret_out, f"{secret}\n".encode())
        try:
            store.webhooks.add(channel, url, allow_http=allow_http, secret=secret)
        except HqError as exc:
            secret_out.unlink(missing_ok=True)
            raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    click.echo(f"webhook of {channel} added: {url}; its signing secret is in {secret_out}")


@webhooks.command("list")
@secret_url_option("db", DB_URL_ENV, _DB_HELP, default="sqlite:///hq.sqlite")
def list_webhooks(db: str) -> None:
    """Every webhook: its URL, what it delivered, retried and parked, and what waits."""
    from hq import ProfileStore

    store = ProfileStore(db)
    try:
        statuses = store.webhooks.statuses()
    finally:
        store.close()
    if not statuses:
        click.echo("no webhooks")
    for status in statuses:
        click.echo(_describe(status))


@webhooks.command("remove")
@click.option("--channel", required=True)
@secret_url_option("db", DB_URL_ENV, _DB_HELP, default="sqlite:///hq.sqlite")
def remove(channel: str, db: str) -> None:
    """Stop calling CHANNEL's webhook; what it had not delivered is dropped."""
    from hq import ProfileStore

    store = ProfileStore(db)
    try:
        dropped = store.webhooks.remove(channel)
    finally:
        store.close()
    if dropped is None:
        raise click.ClickException(f"channel {channel!r} has no webhook")
    click.echo(f"webhook of {channel} removed ({dropped} undelivered changes dropped)")


def _describe(status: WebhookStatus) -> str:
    hook = status.webhook
    lines = [f"{hook.channel}  {hook.url}  delivered {hook.delivered}  retried {hook.retried}  "
             f"parked {hook.parked}  waiting {status.queued}"
             + (f" ({status.parked_now} parked now)" if status.parked_now else "")]
    lines += [f"  parked: change {p.cursor} ({p.kind}) after {p.attempts} attempt(s), holding back {p.held}: "
              f"{p.problem}" for p in status.parked_changes]
    if status.parked_now > len(status.parked_changes):
        lines.append(f"  ... and {status.parked_now - len(status.parked_changes)} more parked")
    return "\n".join(lines)
