"""Item → item neighbour tables in compressed sparse row form, best neighbour first."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, eq=False)
class NeighbourTable:
    """Row ``i`` lists item ``i``'s neighbours ``indices[indptr[i]:indptr[i+1]]``, best first."""

    indptr: npt.NDArray[np.int64]
    indices: npt.NDArray[np.int32]
    weights: npt.NDArray[np.float32]

    @property
    def n_rows(self) -> int:
        """How many items the table has rows for."""
        return int(self.indptr.shape[0]) - 1

    @property
    def n_pairs(self) -> int:
        """How many (item, neighbour) pairs the table stores."""
        return int(self.indices.shape[0])

    def row(self, item: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]:
        """Neighbours of ``item`` and their weights, best first."""
        start, end = int(self.indptr[item]), int(self.indptr[item + 1])
        return self.indices[start:end], self.weights[start:end]

    def gather(
        self, rows: npt.NDArray[np.intp]
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int32], npt.NDArray[np.float32]]:
        """All pairs of ``rows`` at once: (position in ``rows``, neighbour, weight) arrays."""
        starts = self.indptr[rows]
        lengths = self.indptr[rows + 1] - starts
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        owner = np.repeat(np.arange(rows.shape[0]), lengths)
        # offset of every pair inside its row, then shifted to the row's start
        within = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        flat = starts[owner] + within
        return owner, self.indices[flat], self.weights[flat]

    @classmethod
    def empty(cls, n_rows: int) -> NeighbourTable:
        """A table with ``n_rows`` rows and no pairs."""
        return cls(np.zeros(n_rows + 1, dtype=np.int64), np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))

    @classmethod
    def from_pairs(
        cls,
        n_rows: int,
        rows: npt.NDArray[np.integer],
        cols: npt.NDArray[np.integer],
        weights: npt.NDArray[np.floating],
        keep: int,
    ) -> NeighbourTable:
        """Keep the ``keep`` heaviest pairs of every row (ties: lower column first).

        Pairs must be unique per (row, column); zero or negative weights are dropped.
        """
        positive = weights > 0
        rows, cols, weights = rows[positive], cols[positive], weights[positive]
        order = np.lexsort((cols, -weights, rows))
        rows, cols, weights = rows[order], cols[order], weights[order]
        counts = np.bincount(rows, minlength=n_rows).astype(np.int64)
        starts = np.cumsum(counts) - counts
        rank = np.arange(rows.shape[0]) - np.repeat(starts, counts)
        kept = rank < keep
        rows, cols, weights = rows[kept], cols[kept], weights[kept]
        indptr = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
        return cls(indptr, cols.astype(np.int32), weights.astype(np.float32))
