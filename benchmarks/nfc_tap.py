"""Simulated tap -> TagRead: latency and reads per second through ``TagReader``, side by
side with a bare nfcpy read loop on the same emulated tag.

How it measures, and why that is fair to both sides:

- One ``TagEmulator`` (a Type 3 tag over nfcpy's udp driver) serves both readers, which
  poll the same way: ``clf.sense(RemoteTarget("212F"), iterations=1)`` in a loop, then
  ``nfc.tag.activate`` and ``tag.ndef``, then presence checks every 50 ms until the tag
  is gone. The bare loop takes ``tag.ndef.records`` (nfcpy's own decoding with ndeflib,
  what an application on nfcpy alone works with); ``TagReader`` decodes the NDEF into a
  ``TagRead``, applies its one-tap-one-read policy and calls ``on_read``.
- nfcpy's udp driver waits a fixed 1.0 s for an answer to each poll. The emulator holds
  its port while the tag is away, so the poll a reader has in flight waits in the socket
  and is answered the moment the tag is presented, as a real tag answers the next poll of
  an always-on field. Latency is therefore measured from *presentation* (the emulator
  starting to answer, its ``TapTiming.presented_at``) to the read being in the reader's
  hands (``on_read`` called / ``tag.ndef.records`` returned), on one ``perf_counter``
  clock; no second of poll phase is lost or gained by either side. The part after
  activation (``activated_at``: the reader's first command after the poll) is reported too.
- Latency: spaced taps (the tag held 50 ms after the read, lifted 300 ms, longer than the
  same-tap holdoff), five product tags in turn. Reads per second: the same five tags
  presented back to back (lifted the instant the read ends, the next one already there),
  for a fixed number of taps, from the first presentation to the last read.
- The two sides alternate in rounds (ten by default), so load from other work on a shared
  machine hits both alike; tails (p95, p99) still move with such load, the median hardly.

Run: ``.venv/bin/python -m benchmarks.nfc_tap [--taps 200] [--rounds 10] [--burst 200]``.
Prints the figures and the ratio (TagReader / bare), writes ``benchmarks/results/nfc_tap.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import ndef
import nfc
import nfc.clf
import nfc.tag

from kiosk_app.demo import free_port
from nfc_reader import TagEmulator, TagKind, TagRead, TagReader, encode_product

RESULTS = Path(__file__).parent / "results" / "nfc_tap.json"
SHOP = "https://shop.example.com"
MESSAGES = [encode_product(SHOP, f"BOOT-{n}") for n in range(5)]
PRESENCE_INTERVAL_S = 0.05  # TagPolicy's default, used by the bare loop too
SPACED_HOLD_S, SPACED_LIFT_S = 0.05, 0.3


class BareLoop:
    """The read loop one writes with nfcpy alone: poll, activate, read NDEF, wait until gone."""

    def __init__(self, path: str, on_read: Callable[[list[ndef.Record] | None], None]) -> None:
        self._path, self._on_read = path, on_read
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bare-nfcpy", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(3)

    def _run(self) -> None:
        clf = nfc.ContactlessFrontend(self._path)
        try:
            polled = nfc.clf.RemoteTarget("212F")
            while not self._stop.is_set():
                target = clf.sense(polled, iterations=1)
                if target is None:
                    continue
                tag = nfc.tag.activate(clf, target)
                if tag is None:
                    continue
                found = tag.ndef
                self._on_read(found.records if found is not None else None)
                while not self._stop.is_set() and tag.is_present:
                    time.sleep(PRESENCE_INTERVAL_S)
        finally:
            clf.close()


def _start_side(side: str, path: str, delivered: queue.Queue[tuple[float, object]]) -> Callable[[], None]:
    """Start one side's reader; returns its stop function. Each read is queued with its time."""
    def on_read(read: object) -> None:
        delivered.put((time.perf_counter(), read))

    if side == "tagreader":
        reader = TagReader(path, on_read)
        reader.start()
        return lambda: reader.stop(timeout_s=3)
    bare = BareLoop(path, on_read)
    bare.start()
    return bare.stop


def _ok(read: object) -> bool:
    return (isinstance(read, TagRead) and read.kind is TagKind.PRODUCT) or (isinstance(read, list) and bool(read))


def measure_spaced(side: str, emulator: TagEmulator, taps: int) -> dict[str, list[float]]:
    """Latency of ``taps`` spaced taps: from presentation and from activation, in ms."""
    delivered: queue.Queue[tuple[float, object]] = queue.Queue()
    stop = _start_side(side, emulator.path, delivered)
    from_presented, from_activated = [], []
    try:
        time.sleep(0.2)  # the reader's first poll is in flight
        for number in range(taps):
            if not emulator.tap(MESSAGES[number % len(MESSAGES)], hold_s=SPACED_HOLD_S, lift_s=SPACED_LIFT_S):
                raise RuntimeError(f"{side}: tap {number} was not read")
            at, read = delivered.get(timeout=5)
            timing = emulator.last_tap
            if not _ok(read) or timing is None or timing.activated_at is None:
                raise RuntimeError(f"{side}: tap {number} read as {read!r}")
            from_presented.append((at - timing.presented_at) * 1000)
            from_activated.append((at - timing.activated_at) * 1000)
        if not delivered.empty():
            raise RuntimeError(f"{side}: more reads than taps")
    finally:
        stop()
    return {"from_presented_ms": from_presented, "from_activated_ms": from_activated}


def measure_burst(side: str, emulator: TagEmulator, taps: int) -> float:
    """Reads per second with tags presented back to back."""
    delivered: queue.Queue[tuple[float, object]] = queue.Queue()
    stop = _start_side(side, emulator.path, delivered)
    try:
        time.sleep(0.2)
        started = time.perf_counter()
        for number in range(taps):
            if not emulator.tap(MESSAGES[number % len(MESSAGES)], hold_s=0.0, lift_s=0.0):
                raise RuntimeError(f"{side}: burst tap {number} was not read")
        reads = [delivered.get(timeout=5) for _ in range(taps)]
        if not all(_ok(read) for _, read in reads) or not delivered.empty():
            raise RuntimeError(f"{side}: the burst was not read once per tap")
        return taps / (reads[-1][0] - started)
    finally:
        stop()


def _percentiles(values: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(statistics.median(values), 3), "p95": round(cuts[94], 3), "p99": round(cuts[98], 3),
            "mean": round(statistics.fmean(values), 3), "n": len(values)}


@dataclass
class SideFigures:
    """One side's figures: latency in ms from presentation and from activation, reads per second."""

    tap_to_read_ms: dict[str, float]
    activation_to_read_ms: dict[str, float]
    reads_per_second: float
    reads_per_second_by_round: list[float]


@dataclass
class TapReport:
    """Both sides and their ratios (above 1: our layer costs that factor)."""

    method: str
    taps_per_side: int
    rounds: int
    burst_taps_per_side: int
    bare_nfcpy: SideFigures
    tagreader: SideFigures
    ratio: dict[str, float]
    machine: dict[str, str] = field(default_factory=lambda: {
        "python": sys.version.split()[0], "platform": platform.platform(), "nfcpy": nfc.__version__,
        "cpus": str(os.cpu_count()), "load_average_at_end": " ".join(f"{x:.2f}" for x in os.getloadavg())})


METHOD = ("same emulator and the same polling for both sides; latency from tag presentation (the emulator "
          "answering the reader's pending poll) to the read in hand, on one perf_counter clock; the two sides "
          "alternate in rounds; ratios are TagReader/bare for latency and bare/TagReader for reads per second")


def run(taps: int, rounds: int, burst: int) -> TapReport:
    """Alternate the two sides for ``rounds`` rounds; return the figures."""
    emulator = TagEmulator(free_port(socket.SOCK_DGRAM))
    sides = ("bare", "tagreader")
    spaced: dict[str, dict[str, list[float]]] = {s: {"from_presented_ms": [], "from_activated_ms": []} for s in sides}
    rates: dict[str, list[float]] = {s: [] for s in sides}
    try:
        for number in range(rounds):
            for side in sides if number % 2 == 0 else sides[::-1]:
                for key, values in measure_spaced(side, emulator, max(1, taps // rounds)).items():
                    spaced[side][key].extend(values)
                rates[side].append(measure_burst(side, emulator, max(1, burst // rounds)))
    finally:
        emulator.close()
    figures = {side: SideFigures(_percentiles(spaced[side]["from_presented_ms"]),
                                 _percentiles(spaced[side]["from_activated_ms"]),
                                 round(statistics.median(rates[side]), 1), [round(rate, 1) for rate in rates[side]])
               for side in sides}
    ours, bare = figures["tagreader"], figures["bare"]
    ratio = {f"tap_to_read_{key}": round(ours.tap_to_read_ms[key] / bare.tap_to_read_ms[key], 3)
             for key in ("p50", "p95", "p99")}
    ratio |= {f"activation_to_read_{key}": round(ours.activation_to_read_ms[key] / bare.activation_to_read_ms[key], 3)
              for key in ("p50", "p95", "p99")}
    ratio["reads_per_second"] = round(bare.reads_per_second / ours.reads_per_second, 3)
    return TapReport(METHOD, taps, rounds, burst, bare, ours, ratio)


def main() -> int:
    """Run the benchmark, print its figures and ratios, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taps", type=int, default=200, help="spaced taps per side")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--burst", type=int, default=200, help="back-to-back taps per side")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    report = run(args.taps, args.rounds, args.burst)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(asdict(report), indent=2) + "\n")
    bare, ours, ratio = report.bare_nfcpy, report.tagreader, report.ratio
    print(f"nfc tap benchmark: {args.taps} spaced and {args.burst} back-to-back taps per side, {args.rounds} rounds")
    print(f"{'':30s}{'bare nfcpy':>12s}{'TagReader':>12s}{'ratio':>8s}")
    for key in ("p50", "p95", "p99"):
        print(f"{'tap -> read ' + key + ' (ms)':30s}{bare.tap_to_read_ms[key]:12.2f}{ours.tap_to_read_ms[key]:12.2f}"
              f"{ratio['tap_to_read_' + key]:8.3f}")
    for key in ("p50", "p95", "p99"):
        print(f"{'activation -> read ' + key + ' (ms)':30s}{bare.activation_to_read_ms[key]:12.2f}"
              f"{ours.activation_to_read_ms[key]:12.2f}{ratio['activation_to_read_' + key]:8.3f}")
    print(f"{'reads per second':30s}{bare.reads_per_second:12.1f}{ours.reads_per_second:12.1f}"
          f"{ratio['reads_per_second']:8.3f}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
