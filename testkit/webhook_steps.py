"""What the webhook tests do with HQ: register a receiver for a channel's webhook, run the
delivery with quick retries, and publish a kiosk's events as its outbox would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import paho.mqtt.client as mqtt

from hq import DeliveryPolicy, ProfileStore, WebhookDelivery
from kiosk_app.demo import free_port
from kiosk_protocol import TapEvent, encode_event, events_topic
from testkit.webhooks import WebhookReceiver

STORE, KIOSK = "madrid-centro", "kiosk-01"
# Quick retries, so a test waits on what it asserts for fractions of a second, not minutes.
FAST = DeliveryPolicy(timeout_s=2.0, first_retry_s=0.05, max_retry_s=0.2, max_attempts=1000, give_up_after_s=600,
                      poll_s=0.02, refresh_s=0.05, lease_s=5)


@contextmanager
def receiving(store: ProfileStore, channel: str, *, started: bool = True) -> Iterator[WebhookReceiver]:
    """A receiver for ``channel``'s webhook, registered at HQ with the secret HQ made."""
    port = free_port()
    hook = store.webhooks.add(channel, f"http://127.0.0.1:{port}/hooks")
    receiver = WebhookReceiver(hook.secret, port)
    if started:
        receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


@contextmanager
def delivering(store: ProfileStore, policy: DeliveryPolicy = FAST) -> Iterator[WebhookDelivery]:
    delivery = WebhookDelivery(store.webhooks, policy)
    delivery.start()
    try:
        yield delivery
    finally:
        delivery.stop()


class KioskPublisher:
    """A kiosk's outbox stand-in: publishes events on its own topic, QoS 1."""

    def __init__(self, port: int, store: str = STORE, kiosk: str = KIOSK) -> None:
        self.store, self.kiosk = store, kiosk
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{store}.{kiosk}")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, *events: TapEvent) -> None:
        for event in events:
            self.client.publish(events_topic(self.store, self.kiosk), encode_event(event), qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
