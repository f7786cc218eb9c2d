"""Spatial subdivision of features into tiles under budgets (features and bytes per tile).

A k-d split at the median along the longest axis adapts to density: dense downtown blocks get
small tiles, sparse suburbs large ones, and every leaf respects both budgets. The tree is built
in place over one permutation of the items, so it costs 8 bytes an item however deep it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Node", "build_hierarchy", "widen"]


@dataclass(frozen=True, slots=True)
class Node:
    """A node of the tile tree: a leaf holds item indices, an inner node holds children.

    An inner node's ``items`` are those of its leaves, in leaf order (a view shared with them).
    """

    items: npt.NDArray[np.int64]
    children: tuple[Node, ...] = ()

    @property
    def is_leaf(self) -> bool:
        return not self.children

    def leaves(self) -> list[Node]:
        """Return the leaves below this node, depth first."""
        if self.is_leaf:
            return [self]
        return [leaf for child in self.children for leaf in child.leaves()]


def build_hierarchy(
    centres: npt.NDArray[np.float64],
    sizes: npt.NDArray[np.int64],
    *,
    max_features: int,
    max_bytes: int,
) -> Node:
    """Split items into a tree whose leaves hold at most ``max_features`` items and
    ``max_bytes`` bytes (an item larger than ``max_bytes`` gets a leaf of its own).

    Parameters
    ----------
    centres : (N, 3) float64
        Item centres in any Cartesian frame (e.g. ECEF metres).
    sizes : (N,) int64
        Estimated encoded bytes of each item.

    Examples
    --------
    >>> pts = np.array([[x, 0.0, 0.0] for x in range(10)])
    >>> root = build_hierarchy(pts, np.ones(10, dtype=np.int64), max_features=4, max_bytes=100)
    >>> [leaf.items.tolist() for leaf in root.leaves()]
    [[0, 1], [2, 3, 4], [5, 6], [7, 8, 9]]
    """
    if max_features < 1 or max_bytes < 1:
        raise ValueError("budgets must be positive")
    order = np.arange(len(centres), dtype=np.int64)
    return _split(order, centres, sizes, max_features, max_bytes)


def _split(
    items: npt.NDArray[np.int64],
    centres: npt.NDArray[np.float64],
    sizes: npt.NDArray[np.int64],
    max_features: int,
    max_bytes: int,
) -> Node:
    """Split ``items``, a view of the one permutation, sorting it in place (children sort
    their halves further)."""
    if len(items) <= 1 or (len(items) <= max_features and sizes[items].sum() <= max_bytes):
        return Node(items)
    spans = [np.ptp(centres[items, axis]) for axis in range(centres.shape[1])]
    axis = int(np.argmax(spans))
    items[:] = items[np.argsort(centres[items, axis], kind="stable")]
    half = len(items) // 2
    children = (
        _split(items[:half], centres, sizes, max_features, max_bytes),
        _split(items[half:], centres, sizes, max_features, max_bytes),
    )
    return Node(items, children)


def widen(node: Node) -> Node:
    """Return the tree with every other level of inner nodes merged into its parent.

    A k-d tree is binary; widened, each inner node has up to four children (as a quadtree),
    so there are about half as many inner tiles to fill with coarse content and the tree is
    half as deep. Leaves are unchanged.

    Examples
    --------
    >>> pts = np.array([[x, 0.0, 0.0] for x in range(8)])
    >>> root = widen(build_hierarchy(pts, np.ones(8, dtype=np.int64), max_features=2,
    ...                              max_bytes=100))
    >>> [len(root.children)], [leaf.items.tolist() for leaf in root.leaves()]
    ([4], [[0, 1], [2, 3], [4, 5], [6, 7]])
    """
    if node.is_leaf:
        return node
    grandchildren = [g for child in node.children for g in (child.children or (child,))]
    return Node(node.items, tuple(widen(g) for g in grandchildren))
