"""The content side: item → item neighbours from catalog features, for items nobody clicked yet.

Each item becomes a TF-IDF vector of its texts in every language (accents folded) joined
with a TF-IDF vector of structured tokens (every prefix of the category path, the brand,
a price band, attributes such as colour). Cosine similarity between those vectors gives
each item its ``neighbours`` most similar items. Catalogs up to ``exact_up_to`` items are
compared exactly, every item with every other. Larger ones are compared in a truncated SVD
space (latent semantic analysis, ``dimensions`` wide) and only within each top-level
category ("footwear", "bags"...): a similar item for cold start is one of the same kind,
and the search then costs the sum of the squared department sizes instead of the square
of the catalog (50,000 products in 20 departments: 20 times less).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from recommender._table import NeighbourTable
from recommender._types import ItemFeatures


@dataclass(frozen=True)
class ContentConfig:
    """How content similarity is computed."""

    neighbours: int = 20
    text_weight: float = 1.0
    structure_weight: float = 1.0
    min_similarity: float = 0.05
    exact_up_to: int = 4096  # items; above this, compare in an SVD space of `dimensions`
    dimensions: int = 128
    block_rows: int = 256

    def __post_init__(self) -> None:
        if self.neighbours < 1 or self.dimensions < 2 or self.block_rows < 1:
            raise ValueError("neighbours >= 1, dimensions >= 2 and block_rows >= 1 are required")
        if self.text_weight < 0 or self.structure_weight < 0 or self.text_weight + self.structure_weight == 0:
            raise ValueError("content weights must be >= 0 and not both 0")


def structured_tokens(item: ItemFeatures) -> list[str]:
    """The item's category prefixes, brand, price band and attributes as tokens."""
    tokens: list[str] = []
    parts = [part for part in item.category.lower().split("/") if part]
    tokens += ["cat=" + "/".join(parts[: depth + 1]) for depth in range(len(parts))]
    if item.brand:
        tokens.append("brand=" + item.brand.lower())
    if item.price is not None:
        # bands double in width: 0-1, 1-3, 3-7, 7-15, 15-31, ... currency units
        tokens.append(f"price={int(math.log2(item.price + 1.0))}")
    tokens += ["attr=" + attribute.lower() for attribute in item.attributes]
    return tokens


def content_neighbours(items: Sequence[ItemFeatures | None], config: ContentConfig) -> NeighbourTable:
    """Top neighbours by content for every position of ``items`` (``None``: no features, no row)."""
    n = len(items)
    vectors = _item_vectors(items, config)
    if vectors is None:
        return NeighbourTable.empty(n)
    large = n > config.exact_up_to and vectors.shape[1] > config.dimensions
    embedding: sparse.csr_matrix | npt.NDArray[np.float32] = vectors
    if large:
        svd = TruncatedSVD(n_components=config.dimensions, algorithm="randomized", n_iter=4, random_state=0)
        embedding = normalize(svd.fit_transform(vectors)).astype(np.float32)
    rows: list[npt.NDArray[np.int64]] = []
    cols: list[npt.NDArray[np.int64]] = []
    sims: list[npt.NDArray[np.float32]] = []
    for members in _search_groups(items, by_department=large):
        keep = min(config.neighbours, members.shape[0] - 1)
        if keep < 1:
            continue
        similarities = _similarity_blocks(embedding, members)
        for start in range(0, members.shape[0], config.block_rows):
            stop = min(start + config.block_rows, members.shape[0])
            block = similarities(members[start:stop])
            block[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # an item is not its own neighbour
            r, c, v = top_k_per_row(block, keep, config.min_similarity)
            rows.append(members[start:stop][r])
            cols.append(members[c])
            sims.append(v)
    if not rows:
        return NeighbourTable.empty(n)
    return NeighbourTable.from_pairs(
        n, np.concatenate(rows), np.concatenate(cols), np.concatenate(sims), keep=config.neighbours
    )


def _similarity_blocks(
    embedding: sparse.csr_matrix | npt.NDArray[np.float32], members: npt.NDArray[np.intp]
) -> Callable[[npt.NDArray[np.intp]], npt.NDArray[np.float32]]:
    """A function giving the cosine similarities of some items with every one of ``members``."""
    if isinstance(embedding, np.ndarray):
        dense_t = np.ascontiguousarray(embedding[members].T)
        return lambda rows: embedding[rows] @ dense_t
    sparse_t = embedding[members].T.tocsc()
    return lambda rows: np.asarray((embedding[rows] @ sparse_t).toarray(), dtype=np.float32)


def top_k_per_row(
    block: npt.NDArray[np.float32], keep: int, floor: float
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.float32]]:
    """Row, column and value of each row's ``keep`` largest entries that are ``>= floor``.

    Exact, and cheaper than a full partition on wide blocks: the ``keep``-th largest value of
    a strided sample of the columns can only be lower than the row's own, so every entry at
    or above it is a candidate and the true top ``keep`` are among the candidates.
    Ties go to the lower column.
    """
    width = block.shape[1]
    keep = min(keep, width)
    stride = width // (64 * keep) if keep else 0
    sample = block[:, ::stride] if stride >= 2 else block
    threshold = np.partition(sample, sample.shape[1] - keep, axis=1)[:, sample.shape[1] - keep]
    threshold = np.maximum(threshold, floor)
    r, c = np.nonzero(block >= threshold[:, None])
    v = block[r, c]
    order = np.lexsort((c, -v, r))
    r, c, v = r[order], c[order], v[order]
    counts = np.bincount(r, minlength=block.shape[0])
    rank = np.arange(r.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)
    kept = rank < keep
    return r[kept], c[kept], v[kept]


def _search_groups(items: Sequence[ItemFeatures | None], by_department: bool) -> list[npt.NDArray[np.intp]]:
    """Positions compared with each other: all items with features, or each top-level category apart."""
    groups: dict[str, list[int]] = {}
    for position, item in enumerate(items):
        if item is not None:
            department = item.category.split("/", 1)[0].lower() if by_department else ""
            groups.setdefault(department, []).append(position)
    return [np.asarray(members, dtype=np.intp) for members in groups.values()]


def _item_vectors(items: Sequence[ItemFeatures | None], config: ContentConfig) -> sparse.csr_matrix | None:
    texts = [" ".join(item.texts) if item else "" for item in items]
    structure = [structured_tokens(item) if item else [] for item in items]
    blocks = []
    for weight, vectorizer, documents in (
        (config.text_weight, TfidfVectorizer(strip_accents="unicode", sublinear_tf=True), texts),
        (config.structure_weight, TfidfVectorizer(analyzer=_identity), structure),
    ):
        if weight == 0:
            continue
        try:
            matrix = vectorizer.fit_transform(documents)
        except ValueError:  # empty vocabulary: no item has this kind of feature
            continue
        blocks.append(normalize(matrix) * math.sqrt(weight))
    if not blocks:
        return None
    return normalize(sparse.hstack(blocks).tocsr()).astype(np.float32)


def _identity(tokens: list[str]) -> list[str]:
    return tokens
