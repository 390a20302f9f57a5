"""Model files: a fixed preamble, a JSON header and a NumPy ``.npz`` payload, checksummed.

Layout (big-endian)::

    offset  size  field
    0       8     magic  b"\\x89KIOSKRM"   (the high byte catches 7-bit and text-mode damage)
    8       2     format version (1)
    10      2     flags (0; format 1 defines none, any set flag is refused)
    12      4     header length H
    16      8     payload length P
    24      32    SHA-256 of header + payload
    56      H     header: UTF-8 JSON (kind, model info, scoring weights, stores, array shapes)
    56+H    P     payload: an uncompressed ``.npz`` of the arrays, written and read with ``allow_pickle=False``

Nothing in a model file is ever unpickled or executed, so a file from anywhere can be
checked safely. Files are written to a temporary name and renamed, so a crash mid-write
never leaves half a model under the real name.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import tempfile
import zipfile
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from recommender._model import ModelData, ModelInfo, Recommender
from recommender._session import ScoringConfig
from recommender._table import NeighbourTable
from recommender.exceptions import (
    ArtifactError,
    CorruptArtifactError,
    ForeignArtifactError,
    UnsupportedArtifactVersionError,
)

MAGIC = b"\x89KIOSKRM"
FORMAT_VERSION = 1
KIND = "nfc-kiosk/recommender-model"
_PREAMBLE = struct.Struct(">8sHHIQ32s")
_MAX_HEADER = 16 * 1024 * 1024

# name -> (dtype, number of dimensions)
_ARRAYS: dict[str, tuple[str, int]] = {
    "item_ids": ("U", 1),
    "covisit_indptr": ("int64", 1),
    "covisit_indices": ("int32", 1),
    "covisit_weights": ("float32", 1),
    "repeat": ("float32", 1),
    "content_indptr": ("int64", 1),
    "content_indices": ("int32", 1),
    "content_weights": ("float32", 1),
    "popularity": ("float32", 1),
    "has_features": ("bool", 1),
    "groups": ("int32", 1),
    "in_stock": ("bool", 2),
    "store_popularity": ("float32", 2),
}


def save_model(model: Recommender, path: str | Path) -> str:
    """Write ``model`` to ``path`` atomically; returns the file's SHA-256 (hex)."""
    data = model.data
    arrays: dict[str, npt.NDArray[Any]] = {
        "item_ids": np.asarray(data.item_ids, dtype=np.str_),
        "covisit_indptr": data.covisit.indptr,
        "covisit_indices": data.covisit.indices,
        "covisit_weights": data.covisit.weights,
        "repeat": data.repeat,
        "content_indptr": data.content.indptr,
        "content_indices": data.content.indices,
        "content_weights": data.content.weights,
        "popularity": data.popularity,
        "has_features": data.has_features,
        "groups": data.groups,
        "in_stock": data.in_stock,
        "store_popularity": data.store_popularity,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # the .npz layout numpy.load reads
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
    payload = buffer.getvalue()
    header = json.dumps(
        {
            "kind": KIND,
            "format_version": FORMAT_VERSION,
            "info": model.info.to_json(),
            "scoring": asdict(model.scoring),
            "stock_store_ids": list(data.stock_store_ids),
            "popularity_store_ids": list(data.popularity_store_ids),
            "arrays": {name: [str(a.dtype), list(a.shape)] for name, a in arrays.items()},
        },
        sort_keys=True,
    ).encode()
    digest = hashlib.sha256(header + payload)
    preamble = _PREAMBLE.pack(MAGIC, FORMAT_VERSION, 0, len(header), len(payload), digest.digest())
    target = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(preamble)
            handle.write(header)
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return digest.hexdigest()


def load_model(path: str | Path) -> Recommender:
    """Read and check a model file.

    Raises:
        ArtifactError: the file cannot be read.
        ForeignArtifactError: it is not a recommender model file.
        UnsupportedArtifactVersionError: it uses a newer format.
        CorruptArtifactError: it is truncated, altered or malformed.
    """
    try:
        blob = Path(path).read_bytes()
    except OSError as exc:
        raise ArtifactError(f"cannot read model file {path}: {exc.strerror}") from exc
    return model_from_bytes(blob, source=str(path))


def model_from_bytes(blob: bytes, source: str = "model") -> Recommender:
    """Check and decode a model file's bytes (see :func:`load_model` for the errors)."""
    if len(blob) < len(MAGIC) or blob[: len(MAGIC)] != MAGIC:
        raise ForeignArtifactError(f"{source} is not a recommender model file (wrong magic)")
    if len(blob) < _PREAMBLE.size:
        raise CorruptArtifactError(f"{source} is truncated: {len(blob)} bytes, shorter than the preamble")
    _, version, flags, header_len, payload_len, checksum = _PREAMBLE.unpack_from(blob)
    if version != FORMAT_VERSION:
        raise UnsupportedArtifactVersionError(
            f"{source} uses model format {version}; this kiosk reads format {FORMAT_VERSION}"
        )
    if flags != 0:  # format 1 defines no flag: a set one means a feature this code does not know
        raise UnsupportedArtifactVersionError(f"{source} sets unknown format flags {flags:#06x}")
    expected = _PREAMBLE.size + header_len + payload_len
    if header_len > _MAX_HEADER or len(blob) < expected:
        raise CorruptArtifactError(f"{source} is truncated: {len(blob)} bytes of {expected}")
    if len(blob) > expected:
        raise CorruptArtifactError(f"{source} has {len(blob) - expected} unexpected trailing bytes")
    body = memoryview(blob)[_PREAMBLE.size :]
    if hashlib.sha256(body).digest() != checksum:
        raise CorruptArtifactError(f"{source} fails its checksum: the file was altered or damaged")
    try:
        header = json.loads(bytes(body[:header_len]))
    except ValueError as exc:
        raise CorruptArtifactError(f"{source} has an unreadable header: {exc}") from exc
    if not isinstance(header, dict) or header.get("kind") != KIND:
        kind = header.get("kind") if isinstance(header, dict) else None
        raise ForeignArtifactError(f"{source} holds {kind!r}, not a recommender model")
    arrays = _read_arrays(bytes(body[header_len:]), source)
    try:
        return _assemble(header, arrays)
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptArtifactError(f"{source} is malformed: {exc}") from exc


def _read_arrays(payload: bytes, source: str) -> dict[str, npt.NDArray[Any]]:
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise CorruptArtifactError(f"{source} has an unreadable payload: {exc}") from exc
    for name, (kind, ndim) in _ARRAYS.items():
        array = arrays.get(name)
        if array is None:
            raise CorruptArtifactError(f"{source} lacks the array {name!r}")
        dtype_ok = array.dtype.kind == "U" if kind == "U" else array.dtype == np.dtype(kind)
        if not dtype_ok or array.ndim != ndim:
            raise CorruptArtifactError(f"{source}: array {name!r} is {array.dtype}/{array.ndim}d, not {kind}/{ndim}d")
    return arrays


def _assemble(header: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> Recommender:
    item_ids = tuple(arrays["item_ids"].tolist())
    n = len(item_ids)
    if len(set(item_ids)) != n:
        raise ValueError("item ids repeat")
    covisit = _table(arrays, "covisit", n)
    content = _table(arrays, "content", n)
    stock_store_ids = tuple(str(s) for s in header["stock_store_ids"])
    popularity_store_ids = tuple(str(s) for s in header["popularity_store_ids"])
    for name in ("repeat", "popularity", "has_features", "groups"):
        if arrays[name].shape != (n,):
            raise ValueError(f"{name} has shape {arrays[name].shape}, expected ({n},)")
    if arrays["in_stock"].shape != (len(stock_store_ids), n):
        raise ValueError("in_stock does not match the stores and items")
    if arrays["store_popularity"].shape != (len(popularity_store_ids), n):
        raise ValueError("store_popularity does not match the stores and items")
    for name in ("repeat", "popularity", "store_popularity"):
        if not np.all(np.isfinite(arrays[name])) or (arrays[name] < 0).any():
            raise ValueError(f"{name} holds negative or non-finite values")
    if (arrays["groups"] < -1).any():
        raise ValueError("groups holds codes below -1")
    known = {f.name for f in fields(ScoringConfig)}
    scoring = ScoringConfig(**{k: v for k, v in header["scoring"].items() if k in known})
    info_fields = {f.name for f in fields(ModelInfo)}
    info = ModelInfo(**{k: v for k, v in header["info"].items() if k in info_fields})
    data = ModelData(
        item_ids=item_ids,
        covisit=covisit,
        repeat=arrays["repeat"],
        content=content,
        popularity=arrays["popularity"],
        has_features=arrays["has_features"],
        groups=arrays["groups"],
        stock_store_ids=stock_store_ids,
        in_stock=arrays["in_stock"],
        popularity_store_ids=popularity_store_ids,
        store_popularity=arrays["store_popularity"],
    )
    return Recommender(data, info, scoring)


def _table(arrays: dict[str, npt.NDArray[Any]], prefix: str, n: int) -> NeighbourTable:
    indptr, indices, weights = (arrays[f"{prefix}_{part}"] for part in ("indptr", "indices", "weights"))
    if indptr.shape != (n + 1,) or indptr[0] != 0 or (np.diff(indptr) < 0).any():
        raise ValueError(f"{prefix} row pointers are inconsistent")
    if indptr[-1] != indices.shape[0] or indices.shape != weights.shape:
        raise ValueError(f"{prefix} pair arrays do not match their row pointers")
    if indices.shape[0] and (indices.min() < 0 or indices.max() >= n):
        raise ValueError(f"{prefix} refers to items outside the model")
    if not np.all(np.isfinite(weights)) or (weights < 0).any():
        raise ValueError(f"{prefix} weights are negative or not finite")
    return NeighbourTable(indptr, indices, weights)
