"""The long chaos run: at least 100,000 events from several kiosk processes through a
TCP proxy to a real Mosquitto, while the broker is SIGKILLed and restarted, kiosks are
SIGKILLed mid-drain and resume, and every link is cut. Prints and writes what HQ holds:
0 lost and 0 duplicated is the bar; the raw redelivery count is reported.

    .venv/bin/python -m benchmarks.sync_chaos [--kiosks 5 --events 20000 --rate 400]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path

from testkit.chaos import run_chaos
from testkit.mosquitto import Mosquitto


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiosks", type=int, default=5)
    parser.add_argument("--events", type=int, default=20_000, help="events per kiosk")
    parser.add_argument("--rate", type=float, default=400.0, help="events per second per kiosk")
    parser.add_argument("--broker-kills", type=int, default=5)
    parser.add_argument("--kiosk-kills", type=int, default=5)
    parser.add_argument("--link-cuts", type=int, default=5)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/sync_chaos.json"))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="sync-chaos-"))
    broker = Mosquitto(workdir)
    broker.start()
    try:
        report = run_chaos(broker, workdir, kiosks=args.kiosks, events_per_kiosk=args.events, rate=args.rate,
                           broker_kills=args.broker_kills, kiosk_kills=args.kiosk_kills, link_cuts=args.link_cuts,
                           resend_after_s=10.0, timeout_s=1800)
    finally:
        broker.stop()
    result = dataclasses.asdict(report)
    print(json.dumps(result, indent=2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    if report.lost or report.duplicated:
        raise SystemExit(f"chaos run lost {report.lost} and duplicated {report.duplicated} events")


if __name__ == "__main__":
    main()
