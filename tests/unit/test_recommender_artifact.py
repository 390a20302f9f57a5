"""Recommender model files: round trip, and every kind of bad file refused."""

from __future__ import annotations

import hashlib
import io
import json
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender import (
    ArtifactError,
    Click,
    ClickLog,
    CorruptArtifactError,
    ForeignArtifactError,
    HistoryEvent,
    ItemFeatures,
    Recommender,
    UnsupportedArtifactVersionError,
    build_model,
    load_model,
    model_from_bytes,
    save_model,
)
from recommender._artifact import _PREAMBLE, MAGIC

ITEMS = [
    ItemFeatures("BOOT-BLK", ("Botín negro", "Black boot"), "footwear/boots", "Norte", 89.0, stock={"madrid": 2}),
    ItemFeatures("BOOT-TAN", ("Botín camel", "Tan boot"), "footwear/boots", "Norte", 94.0, stock={"madrid": 1}),
    ItemFeatures("BAG", ("Bolso", "Tote bag"), "bags/totes", "Alba", 59.0, stock={"madrid": 4, "bilbao": 1}),
    ItemFeatures("HAT", ("Gorro", "Beanie"), "accessories/hats", "Olmo", 19.0, stock={"bilbao": 3}),
]
SESSIONS = [["BOOT-BLK", "BAG", "WEB-ONLY"], ["BOOT-TAN", "BAG"], ["HAT", "HAT", "BOOT-BLK"]]


def small_model() -> Recommender:
    clicks = [Click(f"s{n}", sku, 10.0 * n + p, store="madrid") for n, s in enumerate(SESSIONS) for p, sku in
              enumerate(s)]
    return build_model(ITEMS, ClickLog.from_clicks(clicks))


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("model") / "model.rec"
    save_model(small_model(), path)
    return path.read_bytes()


def test_round_trip_keeps_every_array_and_every_answer(tmp_path: Path) -> None:
    model = small_model()
    digest = save_model(model, tmp_path / "m.rec")
    loaded = load_model(tmp_path / "m.rec")
    assert hashlib.sha256((tmp_path / "m.rec").read_bytes()[_PREAMBLE.size:]).hexdigest() == digest
    assert loaded.item_ids == model.item_ids == ("BOOT-BLK", "BOOT-TAN", "BAG", "HAT", "WEB-ONLY")
    for table in ("covisit", "content"):
        for part in ("indptr", "indices", "weights"):
            np.testing.assert_array_equal(getattr(getattr(loaded.data, table), part),
                                          getattr(getattr(model.data, table), part))
    np.testing.assert_array_equal(loaded.data.in_stock, model.data.in_stock)
    assert loaded.data.stock_store_ids == ("bilbao", "madrid")
    assert loaded.scoring == model.scoring and loaded.info == model.info
    history = [HistoryEvent("WEB-ONLY", 0.0), HistoryEvent("BOOT-BLK", 5.0)]
    assert loaded.rank(history, k=5) == model.rank(history, k=5)
    assert loaded.suggest(history, "madrid", in_view={"BOOT-BLK"}) == model.suggest(history, "madrid",
                                                                                    in_view={"BOOT-BLK"})


def test_save_replaces_atomically_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "m.rec"
    target.write_bytes(b"old")
    save_model(small_model(), target)
    assert load_model(target).item_ids[0] == "BOOT-BLK"
    assert [p.name for p in tmp_path.iterdir()] == ["m.rec"]


def rewrite(blob: bytes, *, version: int | None = None, flags: int | None = None,
            header: dict[str, object] | None = None, payload: bytes | None = None) -> bytes:
    """A file with a valid checksum but other content: only the checks behind the checksum can catch it."""
    _, old_version, old_flags, header_len, _, _ = _PREAMBLE.unpack_from(blob)
    body = blob[_PREAMBLE.size:]
    header_bytes = json.dumps(header).encode() if header is not None else body[:header_len]
    payload = payload if payload is not None else body[header_len:]
    digest = hashlib.sha256(header_bytes + payload).digest()
    preamble = _PREAMBLE.pack(MAGIC, version or old_version, old_flags if flags is None else flags,
                              len(header_bytes), len(payload), digest)
    return preamble + header_bytes + payload


def npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=True, **arrays)  # pickling allowed: one case smuggles an object array
    return buffer.getvalue()


def header_of(blob: bytes) -> dict[str, object]:
    _, _, _, header_len, _, _ = _PREAMBLE.unpack_from(blob)
    return json.loads(blob[_PREAMBLE.size:_PREAMBLE.size + header_len])


def arrays_of(blob: bytes) -> dict[str, np.ndarray]:
    _, _, _, header_len, _, _ = _PREAMBLE.unpack_from(blob)
    with np.load(io.BytesIO(blob[_PREAMBLE.size + header_len:])) as archive:
        return {name: archive[name] for name in archive.files}


BAD_FILES = {
    "empty": (lambda b: b"", ForeignArtifactError, "magic"),
    "png": (lambda b: b"\x89PNG\r\n\x1a\n" + b"\0" * 100, ForeignArtifactError, "magic"),
    "bare npz": (lambda b: npz(a=np.zeros(3)), ForeignArtifactError, "magic"),
    "preamble cut": (lambda b: b[:20], CorruptArtifactError, "truncated"),
    "payload cut": (lambda b: b[:-100], CorruptArtifactError, "truncated"),
    "trailing bytes": (lambda b: b + b"x", CorruptArtifactError, "trailing"),
    "flipped byte": (lambda b: b[:-50] + bytes([b[-50] ^ 1]) + b[-49:], CorruptArtifactError, "checksum"),
    "newer format": (lambda b: rewrite(b, version=2), UnsupportedArtifactVersionError, "format 2"),
    "unknown flag": (lambda b: rewrite(b, flags=1), UnsupportedArtifactVersionError, "flags"),
    "other kind": (lambda b: rewrite(b, header={**header_of(b), "kind": "something/else"}), ForeignArtifactError,
                   "something/else"),
    "pickled payload": (lambda b: rewrite(b, payload=npz(**{**arrays_of(b), "repeat": np.array([object()])})),
                        CorruptArtifactError, "payload"),
    "array missing": (lambda b: rewrite(b, payload=npz(**{k: v for k, v in arrays_of(b).items() if k != "groups"})),
                      CorruptArtifactError, "groups"),
    "index out of range": (lambda b: rewrite(b, payload=npz(**{**arrays_of(b), "covisit_indices":
                                                                 arrays_of(b)["covisit_indices"] + 100})),
                           CorruptArtifactError, "outside"),
    "negative weight": (lambda b: rewrite(b, payload=npz(**{**arrays_of(b), "popularity":
                                                              -arrays_of(b)["popularity"] - 1})),
                        CorruptArtifactError, "negative"),
    "wrong shape": (lambda b: rewrite(b, payload=npz(**{**arrays_of(b), "repeat": np.zeros(2, np.float32)})),
                    CorruptArtifactError, "repeat"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_files_are_refused_with_a_clear_error(case: str, model_bytes: bytes) -> None:
    damage, error, message = BAD_FILES[case]
    with pytest.raises(error, match=message):
        model_from_bytes(damage(model_bytes), source="m.rec")


def test_unreadable_header_behind_a_good_checksum(model_bytes: bytes) -> None:
    _, version, flags, _, payload_len, _ = _PREAMBLE.unpack_from(model_bytes)
    header = b"{not json"
    payload = model_bytes[-payload_len:]
    digest = hashlib.sha256(header + payload).digest()
    blob = struct.pack(">8sHHIQ32s", MAGIC, version, flags, len(header), len(payload), digest) + header + payload
    with pytest.raises(CorruptArtifactError, match="header"):
        model_from_bytes(blob)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_single_damaged_byte_is_refused(model_bytes: bytes, data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(model_bytes) - 1))
    flip = data.draw(st.integers(1, 255))
    damaged = model_bytes[:position] + bytes([model_bytes[position] ^ flip]) + model_bytes[position + 1:]
    with pytest.raises(ArtifactError):
        model_from_bytes(damaged)


def test_the_kiosk_checks_a_model_file_with_the_recommender_s_own_reasons(tmp_path: Path, model_bytes: bytes) -> None:
    from kiosk_app._models import model_problem, usable_model

    bad = tmp_path / "bad.rec"
    bad.write_bytes(model_bytes[:-10])
    with pytest.raises(CorruptArtifactError) as refused:
        load_model(bad)
    assert model_problem(bad) == str(refused.value)  # what a model update is refused with
    assert usable_model(bad) is None  # at start: the kiosk suggests from its catalog instead
    assert model_problem(tmp_path / "missing.rec") and usable_model(tmp_path / "missing.rec") is None
    assert usable_model(None) is None  # HQ has sent no model yet
    (tmp_path / "good.rec").write_bytes(model_bytes)
    assert model_problem(tmp_path / "good.rec") is None
    good = usable_model(tmp_path / "good.rec")
    assert good is not None and good.knows("WEB-ONLY")
