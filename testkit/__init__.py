"""Real parts for the tests and the benchmarks, started and stopped by one owner each.

Import each from its own module; none is imported here, so a test that needs a broker
does not load Kivy, and a benchmark that needs a window does not load PostgreSQL's driver.

- ``testkit.mosquitto``: a real Mosquitto on a free port with its own config;
- ``testkit.xvfb``: a virtual X screen;
- ``testkit.kivy_window``: the real kiosk window run beside a scenario, frames drawn;
- ``testkit.waiting``: waiting on a condition (threads or asyncio) or a port, never a sleep;
- ``testkit.postgres``: throwaway PostgreSQL databases;
- ``testkit.disk``: a real small filesystem and filling it to the last byte;
- ``testkit.chmods``: every chmod the process makes, recorded;
- ``testkit.keys``: HQ's signing key and the public key PEM a kiosk is provisioned with;
- ``testkit.tags``: emulated tags and a started reader that collects what it reads;
- ``testkit.chaos``: kiosk processes, a TCP proxy and a run that kills and cuts them.
- ``testkit.store_kiosk``: a kiosk's side of a store's traffic (holds asked, updates and levels heard) in plain paho.
- ``testkit.webhooks``: a webhook receiver that checks every signature and answers as told, hostile ways too.

The tests' fixtures (``tests/conftest.py``) are thin wrappers over these; the benchmarks
use them directly. Both import ``testkit`` from the repository root (``python -m``).
"""
