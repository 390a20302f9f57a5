"""``kiosk hq serve`` and ``kiosk hq files``: HQ's long-running services, and the limits of
what one client connection may hold of their HTTP servers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from backend_sync import (
    BROKER_URL_ENV,
    DB_URL_ENV,
    SystemdNotifier,
    secret_url_option,
    wait_for_signal,
    without_password,
)
from hq._alarms_cli import SMTP_URL_ENV
from hq._webhooks_cli import delivery_options

if TYPE_CHECKING:
    from hq import DeliveryPolicy, HttpLimits

_AnyCommand = Callable[..., None]


def http_limit_options(command: _AnyCommand) -> _AnyCommand:
    """What one client connection may hold of the server (see hq.HttpLimits)."""
    options = [
        click.option("--max-connections", type=click.IntRange(1), help="Open connections at most, dashboard "
                     "streams included; past it a connection gets 503 at once. [default: 512]"),
        click.option("--header-timeout", type=click.FloatRange(0.1), help="Seconds a client has to send a request's "
                     "head (from connecting or from the previous answer). [default: 10]"),
        click.option("--body-timeout", type=click.FloatRange(0.1),
                     help="Seconds a client has to send a request's body after its head. [default: 30]"),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def http_limits(max_connections: int | None, header_timeout: float | None, body_timeout: float | None) -> HttpLimits:
    from hq import HttpLimits

    given = {"max_connections": max_connections, "header_timeout_s": header_timeout, "body_timeout_s": body_timeout}
    return HttpLimits(**{name: value for name, value in given.items() if value is not None})  # type: ignore[arg-type]


@click.command("serve")
@secret_url_option("broker", BROKER_URL_ENV, "Broker URL, mqtt://host:port, one login for every HQ connection.",
                   required=False)
@click.option("--broker-credentials", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="HQ's broker credentials folder (`kiosk hq provision-hq`): a login of its own for each "
                   "connection, as the generated Mosquitto config requires. Instead of --broker.")
@secret_url_option("db", DB_URL_ENV, "Profile database URL.", default="sqlite:///hq.sqlite")
@click.option("--hq-key", type=click.Path(exists=True, path_type=Path), required=True,
              help="HQ's public key (PEM), to check the shopper cards in profile requests and kiosk events.")
@click.option("--worker-id", default="hq-ingest-1", show_default=True)
@click.option("--share-group", help="Share the subscription with other workers of this group.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Ingest worker processes, named <worker-id>-1..N; they share the subscription "
                   "(of --share-group, 'hq' if not given). Use PostgreSQL for more than one.")
@click.option("--api-port", type=click.IntRange(1, 65535), help="Serve the profile API and fleet dashboard here.")
@click.option("--api-host", default="127.0.0.1", show_default=True, help="Address the API listens on.")
@click.option("--api-keys", type=click.Path(exists=True, path_type=Path),
              help='JSON file of each channel\'s API key, {"web": KEY, "app": KEY, "hq": KEY}; '
                   "'hq' may use the dashboard.")
@click.option("--catalog", "catalog_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="HQ's master catalog (`kiosk hq catalog import --master`): with --api-port, serve shoppers' "
                   "phones its product pages at /p/<sku> and flag order lines it does not know, read again "
                   "whenever an import changes it.")
@click.option("--handoff-key", type=click.Path(dir_okay=False, path_type=Path),
              help="File of HQ's secret for hand-off links (made, readable by its owner only, if missing): "
                   "answer kiosks' hand-off requests, and with --api-port and --catalog open the links.")
@click.option("--public-url", help="Where phones reach the pages (https://shop.example.com), to build hand-off "
                                   "links on; a retailer's web shop may serve them. [default: the API's address]")
@click.option("--hold-sweep", "hold_sweep_s", default=5.0, show_default=True, type=click.FloatRange(0.05, 3600),
              help="Seconds between rounds that expire the holds that ran out (and load a changed --catalog's stock).")
@click.option("--request-alert-minutes", default=5, show_default=True, type=click.IntRange(1, 24 * 60),
              help="A shopper's request nobody has taken for this long raises an alert on the fleet dashboard "
                   "(on the kiosk it was asked at, else on its store), and shows as late on the staff page.")
@secret_url_option("smtp", SMTP_URL_ENV, "SMTP server for alarm e-mails (`kiosk hq alarms add-route --email`): "
                   "smtps://user:password@host (TLS), or smtp://... (STARTTLS; plain only to this host).",
                   required=False)
@click.option("--alarm-from", help="The address alarm e-mails come from.  [default: kiosk-hq@<this host>]")
@click.option("--alarm-after", "alarm_after_s", default=120.0, show_default=True, type=click.FloatRange(0, 3600),
              help="Seconds a kiosk's problem lasts before its alarm is raised: a kiosk restarting raises none.")
@click.option("--enrol-broker", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The broker's folder (`kiosk hq init-broker`): with --api-port, new kiosks enrol by a code "
                   "staff approve on the dashboard and get their own login from here (deploy/hq reloads Mosquitto).")
@click.option("--enrol-broker-address", metavar="HOST:PORT", help="Where enrolled kiosks reach the broker.")
@click.option("--enrol-files-url", help="Where enrolled kiosks fetch catalogs and models (`kiosk hq files`).")
@click.option("--releases-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="HQ's publish directory (`kiosk hq release publish --dir`): with --api-port, drive the software "
                   "rollout (`kiosk hq rollout start`), sending its release to each stage's kiosks.")
@click.option("--rollout-soak", "rollout_soak_s", default=600.0, show_default=True, type=click.FloatRange(0, 7 * 86400),
              help="Seconds every kiosk of a rollout's stage must run the release before the next stage starts.")
@click.option("--rollout-round", "rollout_round_s", default=5.0, show_default=True, type=click.FloatRange(0.05, 3600),
              help="Seconds between the rollout's looks at its kiosks.")
@http_limit_options
@delivery_options
def hq_serve(broker: str | None, broker_credentials: Path | None, db: str, hq_key: Path, worker_id: str,
             share_group: str | None, workers: int, api_port: int | None, api_host: str,
             api_keys: Path | None, catalog_file: Path | None, handoff_key: Path | None, public_url: str | None,
             hold_sweep_s: float, request_alert_minutes: int, smtp: str | None, alarm_from: str | None,
             alarm_after_s: float, enrol_broker: Path | None, enrol_broker_address: str | None,
             enrol_files_url: str | None, releases_dir: Path | None, rollout_soak_s: float,
             rollout_round_s: float, max_connections: int | None,
             header_timeout: float | None, body_timeout: float | None,
             webhook_policy: DeliveryPolicy) -> None:
    """Ingest kiosk events into the profile database, answer kiosks' profile (and hand-off)
    requests, push each signed-in shopper's profile changes to their kiosk, deliver the
    webhooks (`kiosk hq webhooks`) and, with --api-port, serve the profile API, the fleet
    dashboard, the store staff page (/staff/) and (with --catalog) the pages for shoppers' phones,
    raise the fleet's alarms to their routes (`kiosk hq alarms`) and (with --releases-dir) drive the
    software rollout."""
    import logging
    import socket

    from backend_sync import BrokerUrl
    from hq import (
        AlarmDelivery,
        AlarmWatch,
        ApiServer,
        CatalogFile,
        FleetView,
        HandoffKey,
        HandoffSigner,
        HoldSweeper,
        HqBrokerUrls,
        HqError,
        IngestCluster,
        IngestWorker,
        KioskProvisioner,
        PhonePages,
        ProfilePusher,
        ProfileResponder,
        ProfileStore,
        RequestWatch,
        RolloutWatch,
        SmtpServer,
        StaffPage,
        StaffSessions,
        StoreLiveFollower,
        WebhookDelivery,
        create_app,
        load_api_keys,
    )
    from kiosk_protocol import CatalogError, Store, SyncError, card_verifier, public_key_from_pem

    if (api_port is None) != (api_keys is None):
        raise click.UsageError("--api-port and --api-keys go together")
    if catalog_file is not None and api_port is None:
        raise click.UsageError("--catalog serves phone pages: give --api-port and --api-keys too")
    if handoff_key is not None and public_url is None and catalog_file is None:
        raise click.UsageError("--handoff-key needs --public-url (where phones open the links), or --catalog "
                               "to open them here")
    if (broker is None) == (broker_credentials is None):
        raise click.UsageError(f"give the broker (--broker, --broker-url-file or ${BROKER_URL_ENV}) "
                               "or --broker-credentials")
    if releases_dir is not None and api_port is None:
        raise click.UsageError("--releases-dir drives rollouts from the dashboard's fleet view: give --api-port too")
    if enrol_broker is not None and (api_port is None or not enrol_broker_address or not enrol_files_url):
        raise click.UsageError("--enrol-broker needs --api-port, --enrol-broker-address and --enrol-files-url")
    pages_url = public_url or f"http://{api_host}:{api_port}"
    try:
        keys = load_api_keys(api_keys) if api_keys else None
        hq_public_key = public_key_from_pem(hq_key.read_bytes())
        verify_card = card_verifier(hq_public_key)
        links = HandoffKey.from_file(handoff_key) if handoff_key else None
        signer = HandoffSigner(links, pages_url, verify_card) if links is not None else None
        catalog = CatalogFile(catalog_file) if catalog_file else None
        enrolment = None
        if enrol_broker is not None and enrol_broker_address and enrol_files_url:
            host, _, port = enrol_broker_address.rpartition(":")
            if not host or not port.isdigit():
                raise click.UsageError(f"--enrol-broker-address is HOST:PORT, not {enrol_broker_address!r}")
            enrolment = KioskProvisioner(enrol_broker, host, int(port), hq_key.read_text(), enrol_files_url)
        smtp_server = SmtpServer.from_url(smtp, alarm_from or f"kiosk-hq@{socket.getfqdn()}") if smtp else None
        urls = (HqBrokerUrls.from_folder(broker_credentials, workers) if broker_credentials is not None
                else HqBrokerUrls.shared(str(broker), workers))
        shown = BrokerUrl.parse(urls.profiles)  # never the URL itself: it may hold a password
    except (HqError, SyncError, CatalogError) as exc:
        raise click.ClickException(str(exc)) from exc
    if broker_credentials is None and shown.username:
        click.echo(f"warning: every HQ connection logs in as {shown.username}; a broker that takes usernames "
                   "as client ids (the generated Mosquitto config) keeps only one of them connected: use "
                   "--broker-credentials", err=True)
    if workers > 1 and db.startswith("sqlite"):
        click.echo("warning: several workers on SQLite take turns writing; use PostgreSQL", err=True)
    store = ProfileStore(db)
    stops: list[Callable[[], object]] = [store.close]
    try:
        if workers == 1:
            worker = IngestWorker(urls.ingest[0], store, worker_id=worker_id, share_group=share_group,
                                  verify_card=verify_card)
            worker.start()

            def stop_worker() -> None:
                worker.stop()
                click.echo(f"HQ ingest stopped: {worker.stats}, "
                           f"coupon saves refused: {store.merge.refused_coupon_saves}")

            stops.append(stop_worker)
            if not worker.subscribed.wait(30):
                raise click.ClickException(f"could not subscribe at {shown}")
            pids = ""
        else:
            cluster = IngestCluster(urls.ingest, db, workers, share_group or "hq", worker_id=worker_id,
                                    log_level=logging.getLogger().getEffectiveLevel(), verify_card=verify_card)
            try:
                cluster.start()
            except HqError as exc:
                raise click.ClickException(str(exc)) from exc
            stops.append(lambda: click.echo(f"HQ ingest stopped: {cluster.stop()}"))
            pids = f", {workers} workers (pids {', '.join(str(pid) for pid in cluster.pids.values())})"
        responder = ProfileResponder(urls.profiles, store, verify_card, client_id=f"{worker_id}-profiles",
                                     handoff=signer)
        responder.start()

        def stop_responder() -> None:
            responder.stop()
            click.echo(f"profiles: {responder.stats}")
            if responder.reservations is not None:
                click.echo(f"reservation requests: {responder.reservations.stats}")

        stops.append(stop_responder)
        if not responder.subscribed.wait(30):
            raise click.ClickException(f"could not subscribe at {shown}")
        # Each change to a signed-in shopper's profile, to their kiosk, through the responder's connection.
        pusher = ProfilePusher(store, responder, name=worker_id)
        pusher.start()

        def stop_pusher() -> None:
            pusher.stop()
            click.echo(f"profile push: {pusher.stats}")

        stops.append(stop_pusher)
        # Each store's reservation states, free units and open requests, to its kiosks, on the same connection.
        live = StoreLiveFollower(store, responder, name=worker_id)
        live.start()

        def stop_live() -> None:
            live.stop()
            click.echo(f"store live: {live.stats}")

        stops.append(stop_live)
        click.echo(f"HQ ingest ready ({shown} -> {without_password(db)}){pids}")
        delivery = WebhookDelivery(store.webhooks, webhook_policy)
        delivery.start()

        def stop_delivery() -> None:
            delivery.stop()
            click.echo(f"webhooks: {delivery.stats}")

        stops.append(stop_delivery)
        # Holds run out on their own; the catalog's stock is in before the API answers.
        sweeper = HoldSweeper(store, catalog, hold_sweep_s)
        sweeper.start()

        def stop_sweeper() -> None:
            sweeper.stop()
            click.echo(f"holds: {sweeper.stats}, reservations refused: {dict(store.reservations.refused)}, "
                       f"stock feeds refused: {store.stock.feeds_refused}")

        stops.append(stop_sweeper)
        if api_port is not None and keys is not None:
            fleet = FleetView(urls.fleet, client_id=f"{worker_id}-fleet")
            # Requests nobody takes in time: alerts on the dashboard, for the fleet's stores and the catalog's.
            fleet.watch_requests(RequestWatch(store.reservations, request_alert_minutes, stores=lambda: [
                s.id for s in catalog.current().stores] if catalog is not None else []).alerts)
            fleet.listen(store.uptime.follow)  # each kiosk's online spans, for analytics' uptime
            fleet.start()

            def catalog_stores() -> Sequence[Store]:  # their time zones and opening hours, for the alarms
                return catalog.current().stores if catalog is not None else ()

            alarm_watch = AlarmWatch(store.alarms, fleet, catalog_stores, raise_after_s=alarm_after_s)
            alarm_sender = AlarmDelivery(store.alarms, smtp_server, webhook_policy, catalog_stores)
            alarm_watch.start()
            alarm_sender.start()

            def stop_alarms() -> None:
                alarm_watch.stop()
                alarm_sender.stop()
                click.echo(f"alarms: {alarm_watch.stats}, notices: {alarm_sender.stats}")

            rollout_stops: list[Callable[[], object]] = []
            if releases_dir is not None:
                rollout_watch = RolloutWatch(store.rollouts, fleet, releases_dir, rollout_soak_s, rollout_round_s)
                rollout_watch.start()

                def stop_rollout() -> None:
                    rollout_watch.stop()
                    click.echo(f"rollout: {rollout_watch.stats}")

                rollout_stops.append(stop_rollout)  # before the fleet view, whose connection it sends on

            staff = StaffPage(store, StaffSessions(keys, hq_public_key), catalog, alert_minutes=request_alert_minutes)
            # An erase tells the fleet through the responder's connection: one of its own
            # with the same login would push the responder off the broker.
            phone = PhonePages(store, catalog, links, public_url=pages_url) if catalog is not None else None
            try:
                app = create_app(store, keys, responder=responder, fleet=fleet, phone=phone, catalog=catalog,
                                 staff=staff, enrolment=enrolment)
            except HqError as exc:
                raise click.ClickException(str(exc)) from exc
            server = ApiServer(app, api_host, api_port, http_limits(max_connections, header_timeout, body_timeout))

            def stop_server() -> None:
                server.stop()
                click.echo(f"HQ API: {app.state.guard.stats}, {server.stats}, staff page: {staff.stats}"
                           + (f", phone pages: {phone.stats}" if phone is not None else "")
                           + f", orders: {app.state.orders}, flagged lines: {store.orders.flagged_lines}")

            # The fleet view, the change feed and the staff page end their open streams first.
            stops += [stop_server, fleet.stop, stop_alarms, *rollout_stops, app.state.changes.close, staff.close]
            server.start()
            click.echo(f"HQ API on {server.url}/v1 (OpenAPI: {server.url}/openapi.json), "
                       f"fleet dashboard on {server.url}/fleet/, staff page on {server.url}/staff/"
                       + (f", phone pages on {server.url}/p/<sku>" if phone is not None else ""))
        SystemdNotifier().ready("serving")  # deploy/hq/kiosk-hq.service is Type=notify
        wait_for_signal()
    finally:
        for stop in reversed(stops):
            stop()


@click.command("files")
@click.option("--dir", "directory", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True)
@http_limit_options
def files(directory: Path, host: str, port: int, max_connections: int | None, header_timeout: float | None,
          body_timeout: float | None) -> None:
    """Serve published bundles to kiosks over HTTP."""
    from hq import FileServer

    server = FileServer(directory, host, port, limits=http_limits(max_connections, header_timeout, body_timeout))
    server.start()
    click.echo(f"HQ files ready on {server.url}")
    try:
        wait_for_signal()
    finally:
        server.stop()
        click.echo(f"HQ files stopped: {server.stats}")
