"""Click logs: sessions of item views from every channel, as compact arrays, and the
orders beside them.

The file format is session-rec's tab-separated ``SessionId<TAB>ItemId<TAB>Time`` (Unix seconds)
with a header line; optional ``Channel`` (``kiosk``/``web``/``app``/``store``) and ``Store``
columns say where a click happened, and an optional ``Kind`` column whether a row is a
``view`` (without the column every row is), a line of an ``order`` (one session per
order, as ``kiosk hq export-events`` writes them) or a suggestion ``shown`` on a kiosk's
screen. Orders are kept apart (``ClickLog.orders``) and impressions are read past: the
model is built on views. Sessions never span files.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from recommender._types import Channel
from recommender.exceptions import EmptyEventLogError, EventLogError

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("SessionId", "ItemId", "Time")
CHANNELS: tuple[Channel, ...] = tuple(Channel)
_CHANNEL_CODE = {channel: code for code, channel in enumerate(CHANNELS)}
_CHANNEL_BY_NAME = {channel.value: channel for channel in CHANNELS}
VIEW, ORDER, SHOWN = "view", "order", "shown"  # the ``Kind`` column's values


@dataclass(frozen=True)
class Click:
    """One item view in one session."""

    session_id: str
    item_id: str
    time: float
    channel: Channel = Channel.KIOSK
    store: str | None = None


@dataclass(frozen=True, eq=False)
class ClickLog:
    """Clicks sorted by session then time, items and stores coded as indices.

    ``items[i]`` indexes ``item_ids``; ``stores[i]`` indexes ``store_ids`` or is -1;
    ``channels[i]`` indexes ``CHANNELS``. Clicks of one session are contiguous.
    """

    item_ids: tuple[str, ...]
    store_ids: tuple[str, ...]
    sessions: npt.NDArray[np.int64]
    items: npt.NDArray[np.int32]
    times: npt.NDArray[np.float64]
    channels: npt.NDArray[np.int8]
    stores: npt.NDArray[np.int32]
    skipped_rows: int = 0
    # The order lines of the same files, coded alike, one session per order (None: the files held none).
    orders: ClickLog | None = None

    def __len__(self) -> int:
        return int(self.items.shape[0])

    @property
    def n_sessions(self) -> int:
        """How many sessions the log holds."""
        return int(np.unique(self.sessions).shape[0]) if len(self) else 0

    def session_bounds(self) -> npt.NDArray[np.int64]:
        """Start offsets of every session plus the end: session ``s`` is ``[b[s], b[s+1])``."""
        if not len(self):
            return np.zeros(1, dtype=np.int64)
        starts = np.flatnonzero(np.diff(self.sessions)) + 1
        return np.concatenate(([0], starts, [len(self)])).astype(np.int64)

    @classmethod
    def from_clicks(cls, clicks: Iterable[Click], skipped_rows: int = 0) -> ClickLog:
        """Code and sort clicks (by session in first-seen order, then by time, stable)."""
        item_code: dict[str, int] = {}
        store_code: dict[str, int] = {}
        session_code: dict[str, int] = {}
        sessions: list[int] = []
        items: list[int] = []
        times: list[float] = []
        channels: list[int] = []
        stores: list[int] = []
        for click in clicks:
            sessions.append(session_code.setdefault(click.session_id, len(session_code)))
            items.append(item_code.setdefault(click.item_id, len(item_code)))
            times.append(click.time)
            channels.append(_CHANNEL_CODE[click.channel])
            stores.append(-1 if click.store is None else store_code.setdefault(click.store, len(store_code)))
        session_array = np.asarray(sessions, dtype=np.int64)
        time_array = np.asarray(times, dtype=np.float64)
        order = np.lexsort((time_array, session_array))
        return cls(
            item_ids=tuple(item_code),
            store_ids=tuple(store_code),
            sessions=session_array[order],
            items=np.asarray(items, dtype=np.int32)[order],
            times=time_array[order],
            channels=np.asarray(channels, dtype=np.int8)[order],
            stores=np.asarray(stores, dtype=np.int32)[order],
            skipped_rows=skipped_rows,
        )


def read_event_log(paths: Sequence[str | Path]) -> ClickLog:
    """Read one or more click files into one log; malformed rows are skipped and counted.

    Raises:
        EventLogError: a file is unreadable or lacks the ``SessionId``, ``ItemId``, ``Time`` columns.
        EmptyEventLogError: no valid click in any file.
    """
    if not paths:
        raise EmptyEventLogError("no event log given")
    clicks: list[Click] = []
    ordered: list[Click] = []
    skipped = 0
    for file_index, path in enumerate(paths):
        prefix = f"{file_index}:" if len(paths) > 1 else ""
        file_clicks, file_orders, file_skipped = _read_one(Path(path), prefix)
        clicks.extend(file_clicks)
        ordered.extend(file_orders)
        skipped += file_skipped
    if not clicks:
        beside = f" (only {len(ordered)} order lines: the model is built on views)" if ordered else ""
        raise EmptyEventLogError(f"no clicks in {', '.join(str(p) for p in paths)}{beside}")
    if skipped:
        log.warning("skipped %d malformed rows in %s", skipped, ", ".join(str(p) for p in paths))
    return replace(ClickLog.from_clicks(clicks, skipped_rows=skipped),
                   orders=ClickLog.from_clicks(ordered) if ordered else None)


def _read_one(path: Path, prefix: str) -> tuple[list[Click], list[Click], int]:
    """The file's views, its order lines, and how many rows it skipped."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle, delimiter="\t")
            header = next(reader, None)
            if header is None:
                return [], [], 0
            missing = [name for name in REQUIRED_COLUMNS if name not in header]
            if missing:
                raise EventLogError(f"{path}: missing column(s) {', '.join(missing)} in header {header}")
            s_col, i_col, t_col = (header.index(name) for name in REQUIRED_COLUMNS)
            c_col = header.index("Channel") if "Channel" in header else None
            st_col = header.index("Store") if "Store" in header else None
            k_col = header.index("Kind") if "Kind" in header else None
            width = len(header)
            by_kind: dict[str, list[Click]] = {VIEW: [], ORDER: [], SHOWN: []}  # impressions: not used yet
            skipped = 0
            for row in reader:
                click = _parse_row(row, width, s_col, i_col, t_col, c_col, st_col, prefix)
                kind = VIEW if k_col is None or len(row) != width else row[k_col].strip().lower()
                if click is None or kind not in by_kind:
                    skipped += 1
                else:
                    by_kind[kind].append(click)
            return by_kind[VIEW], by_kind[ORDER], skipped
    except OSError as exc:
        raise EventLogError(f"cannot read event log {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise EventLogError(f"event log {path} is not UTF-8 text: {exc}") from exc


def _parse_row(
    row: list[str], width: int, s_col: int, i_col: int, t_col: int, c_col: int | None, st_col: int | None, prefix: str
) -> Click | None:
    if len(row) != width or not row[s_col] or not row[i_col]:
        return None
    try:
        time = float(row[t_col])
    except ValueError:
        return None
    if not np.isfinite(time):
        return None
    channel = Channel.KIOSK
    if c_col is not None:
        found = _CHANNEL_BY_NAME.get(row[c_col].strip().lower())
        if found is None:
            return None
        channel = found
    store = row[st_col].strip() or None if st_col is not None else None
    return Click(prefix + row[s_col], row[i_col], time, channel, store)
