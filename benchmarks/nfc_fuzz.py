"""Fuzz what a tag can hand the kiosk: 100,000 cases through the NDEF decoder, the card
token verifier and the UID table loader. Nothing may escape but the documented outcomes:

- ``decode_tag`` never raises and returns a well-formed TagRead (a valid SKU for a
  product, a printable token for a card or badge, a printable reason otherwise);
- ``parse_message`` / ``decode_records`` raise only ``TagDecodeError``;
- ``verify_token`` raises only ``TokenError`` (and rejects every forged, cut or garbled
  token, including a signature respelled in base64's spare bits); ``check_identity``
  never raises;
- loading a UID table file raises only ``UidTableError``.

Run: ``.venv/bin/python -m benchmarks.nfc_fuzz [--cases 100000] [--seed 3]``. Prints how
many cases ran and how many escaped, writes ``benchmarks/results/nfc_fuzz.json`` and
exits 1 if anything escaped.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import random
import struct
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import ndef
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk_protocol import Role, TokenError, issue_token, verify_token
from nfc_reader import (
    BADGE_MIME,
    CARD_MIME,
    PRODUCT_MIME,
    TagDecodeError,
    TagKind,
    TagRead,
    UidTable,
    UidTableError,
    check_identity,
    decode_tag,
    encode_badge,
    encode_card,
    encode_product,
    encode_product_mime,
    encode_product_smart_poster,
    encode_product_text,
)
from nfc_reader._ndef import SKU_PATTERN, decode_records, parse_message

RESULTS = Path(__file__).parent / "results" / "nfc_fuzz.json"
UID = "02FE000000000001"
SHOP = "https://shop.example.com"
HQ = Ed25519PrivateKey.generate()
TYPES = [PRODUCT_MIME, CARD_MIME, BADGE_MIME, "U", "T", "Sp", "text/plain", "image/png", "android.com:pkg", "",
         "application/vnd.nfckiosk.productx", "urn:nfc:wkt:U"]


class Escape(Exception):
    """Something other than the documented outcome came out."""


def _well_formed(read: TagRead) -> None:
    if read.kind is TagKind.PRODUCT:
        ok = read.sku is not None and SKU_PATTERN.match(read.sku) is not None and read.token is None
    elif read.kind in (TagKind.SHOPPER_CARD, TagKind.STAFF_BADGE):
        ok = bool(read.token) and read.sku is None and len(read.token or "") <= 1024
        ok = ok and (read.token or "").isascii() and (read.token or "").isprintable() and " " not in (read.token or "")
    else:
        ok = bool(read.reason) and (read.reason or "").isprintable() and read.sku is None and read.token is None
    if not ok:
        raise Escape(f"ill-formed read {read!r}")


def check_tag_bytes(message: bytes) -> str:
    """Run one message through every decoding layer; return the outcome kind."""
    read = decode_tag(UID, message)
    _well_formed(read)
    with contextlib.suppress(TagDecodeError):
        decode_records(UID, parse_message(message))
    return read.kind.value


def check_token(token: str) -> str:
    """Tokens are forged, cut or garbled here: one that verifies is an escape too."""
    try:
        verify_token(HQ.public_key(), token, Role.SHOPPER)
        outcome = "VERIFIED"
    except TokenError:
        outcome = "rejected"
    for kind in (TagKind.SHOPPER_CARD, TagKind.STAFF_BADGE):
        check_identity(TagRead(kind, UID, token=token), HQ.public_key())
    if outcome == "VERIFIED":
        raise Escape(f"a garbled token verified: {token!r}")
    return outcome


# --- Case generators: each returns (what to check, the input). --------------------------------

def _valid_messages(rng: random.Random) -> list[bytes]:
    sku = rng.choice(["BOOT-1", "A", "X" * 32, "SCARF-7-RED"])
    token = issue_token(HQ, "shopper-1", Role.SHOPPER, 60)
    return [encode_product(SHOP, sku), encode_product_smart_poster(SHOP, sku, "Title"), encode_product_text(sku),
            encode_product_mime(sku), encode_card(token), encode_badge(token)]


def gen_random_bytes(rng: random.Random) -> tuple[Callable[[bytes], str], bytes]:
    return check_tag_bytes, rng.randbytes(rng.choice([0, 1, 2, 3, 5, 8, 16, 40, 100, 300]))


def gen_mutated(rng: random.Random) -> tuple[Callable[[bytes], str], bytes]:
    message = bytearray(b"".join(rng.sample(_valid_messages(rng), rng.randint(1, 2))))
    for _ in range(rng.randint(1, 4)):
        position = rng.randrange(len(message) + 1)
        action = rng.randrange(4)
        if action == 0 and position < len(message):
            message[position] ^= 1 << rng.randrange(8)
        elif action == 1:
            del message[position:]
        elif action == 2:
            message[position:position] = rng.randbytes(rng.randint(1, 6))
        elif position < len(message):
            message[position] = rng.choice([0x00, 0xFF, 0x7F, 0x80])
    return check_tag_bytes, bytes(message)


def _raw_record(rng: random.Random, first: bool, last: bool) -> bytes:
    """One record with a hand-made header: lengths and flags that need not agree with the body."""
    tnf = rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 1, 2])
    type_name = rng.choice(TYPES).encode()
    payload = rng.choice([b"", rng.randbytes(rng.randint(1, 40)), b'{"v":1,"sku":"BOOT-1"}',
                          json.dumps({"v": rng.randint(0, 2), "sku": rng.choice(["B", "b", "", 7])}).encode(),
                          b"\x03shop.example.com/p/BOOT-1", b"\x02enBOOT-1",
                          issue_token(HQ, "s", Role.STAFF, 9).encode()])
    short = len(payload) < 256 and rng.random() < 0.8
    record_id = rng.randbytes(rng.randint(0, 3)) if rng.random() < 0.2 else b""
    flags = (first << 7) | (last << 6) | (rng.random() < 0.05) << 5 | short << 4 | bool(record_id) << 3 | tnf
    header = bytes([flags, len(type_name) ^ (rng.random() < 0.05)])
    header += struct.pack(">B" if short else ">I", len(payload) + (rng.choice([0] * 9 + [1, -1]) if payload else 0))
    if record_id:
        header += bytes([len(record_id)])
    return header + type_name + record_id + payload


def gen_raw_records(rng: random.Random) -> tuple[Callable[[bytes], str], bytes]:
    count = rng.randint(1, 4)
    return check_tag_bytes, b"".join(_raw_record(rng, i == 0, i == count - 1) for i in range(count))


def _random_text(rng: random.Random) -> str:
    alphabet = "ABCZ09-/:.?#%é\x00\x1b\u202e 𝄞" + "abcxyz"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))


def gen_record_combinations(rng: random.Random) -> tuple[Callable[[bytes], str], bytes]:
    makers: list[Callable[[], ndef.Record]] = [
        lambda: ndef.UriRecord(rng.choice([f"{SHOP}/p/", "https://x/p/", "http:/", "ftp://h/p/", ""])
                               + _random_text(rng)),
        lambda: ndef.TextRecord(_random_text(rng), rng.choice(["en", "es", "zz-ZZ"])),
        lambda: ndef.SmartposterRecord(f"https://s/p/{rng.choice(['B-1', 'b', _random_text(rng) or 'x'])}"),
        lambda: ndef.Record(PRODUCT_MIME, "", rng.choice([rng.randbytes(20), b"{}", b'{"v":1,"sku":"OK-1"}',
                                                          _random_text(rng).encode()])),
        lambda: ndef.Record(rng.choice([CARD_MIME, BADGE_MIME]), "", rng.randbytes(rng.randint(0, 1100))),
        lambda: ndef.Record("image/png", "", rng.randbytes(10)),
    ]
    records = [rng.choice(makers)() for _ in range(rng.randint(0, 5))]
    return check_tag_bytes, b"".join(ndef.message_encoder(records))


def gen_tokens(rng: random.Random) -> tuple[Callable[[str], str], str]:
    good = issue_token(HQ, "shopper-1", Role.SHOPPER, rng.choice([-5, 60]))
    choice = rng.randrange(4)
    if choice == 0:
        token = _random_text(rng)
    elif choice == 1:
        chars = list(good)
        for _ in range(rng.randint(1, 3)):
            position = rng.randrange(len(chars))
            chars[position] = rng.choice([c for c in "ABQRghwx-_.=!é" if c != chars[position]])
        token = "".join(chars)
    elif choice == 2:
        token = good[: rng.randrange(len(good))]
    else:
        token = ".".join(_random_text(rng) for _ in range(rng.randint(1, 3)))
    return check_token, token


_TABLE_DIR = Path(tempfile.mkdtemp(prefix="nfc-fuzz-"))


def check_table_file(text: bytes) -> str:
    path = _TABLE_DIR / "tags.json"
    path.write_bytes(text)
    try:
        UidTable(path).lookup("04A1B2C3")
        return "loaded"
    except UidTableError:
        return "refused"


def gen_table_files(rng: random.Random) -> tuple[Callable[[bytes], str], bytes]:
    entries = {rng.choice(["04A1B2C3", "zz", "04a1b2c3", "01" * 11, ""]): rng.choice(["BOOT-1", "b", 3, None])
               for _ in range(rng.randint(0, 3))}
    document = rng.choice([{"version": 1, "tags": entries}, {"version": rng.randint(0, 3), "tags": entries},
                           entries, [entries], "x"])
    text = json.dumps(document).encode()
    if rng.random() < 0.3:
        text = text[: rng.randrange(len(text) + 1)] + rng.randbytes(rng.randint(0, 3))
    return check_table_file, text


# (name, generator, share of the cases)
GENERATORS: list[tuple[str, Callable[[random.Random], tuple[Callable[..., str], object]], float]] = [
    ("random bytes", gen_random_bytes, 0.25),
    ("damaged store tags", gen_mutated, 0.25),
    ("hand-made record headers", gen_raw_records, 0.2),
    ("record combinations", gen_record_combinations, 0.15),
    ("card tokens", gen_tokens, 0.1),
    ("UID table files", gen_table_files, 0.05),
]


@dataclass
class FuzzReport:
    """How many cases ran, how many escaped, and what came out of each generator."""

    cases: int
    escaped: int
    seed: int
    seconds: float
    cases_per_second: int
    outcomes: dict[str, dict[str, int]]
    first_escapes: list[dict[str, str]] = field(default_factory=list)
    python: str = sys.version.split()[0]


def run(cases: int, seed: int) -> FuzzReport:
    """Run ``cases`` fuzz cases; the report says how many ran and how many escaped."""
    rng = random.Random(seed)
    names = [name for name, _, _ in GENERATORS]
    weights = [share for _, _, share in GENERATORS]
    generators = {name: generate for name, generate, _ in GENERATORS}
    by_generator: dict[str, collections.Counter[str]] = {name: collections.Counter() for name in names}
    escapes: list[dict[str, str]] = []
    escaped = 0
    started = time.perf_counter()
    for _ in range(cases):
        name = rng.choices(names, weights)[0]
        check, case = generators[name](rng)
        try:
            by_generator[name][check(case)] += 1
        except Exception as exc:  # exactly what the job is looking for
            escaped += 1
            by_generator[name]["ESCAPED"] += 1
            if len(escapes) < 10:
                escapes.append({"generator": name, "input": repr(case)[:400],
                                "error": "".join(traceback.format_exception_only(exc)).strip()[:400]})
    elapsed = time.perf_counter() - started
    return FuzzReport(cases, escaped, seed, round(elapsed, 2), round(cases / elapsed),
                      {name: dict(counter) for name, counter in by_generator.items()}, escapes)


def main() -> int:
    """Run the fuzz job, print its figures, write the JSON; exit 1 on any escape."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    report = run(args.cases, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(asdict(report), indent=2) + "\n")
    print(f"nfc fuzz: {report.cases} cases ran in {report.seconds} s ({report.cases_per_second}/s), "
          f"{report.escaped} escaped")
    for name, outcomes in report.outcomes.items():
        print(f"  {name:26s} " + ", ".join(f"{kind} {count}" for kind, count in sorted(outcomes.items())))
    for escape in report.first_escapes:
        print(f"  ESCAPE from {escape['generator']}: {escape['error']}\n    input {escape['input']}")
    print(f"wrote {args.out}")
    return 1 if report.escaped else 0


if __name__ == "__main__":
    sys.exit(main())
