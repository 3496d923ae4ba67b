"""A bounded memo for display geometry, keyed by the geometries' own content.

Simplifying 3,000 villages and encoding their shared borders take about half
of a map page's time (benchmarks/map.py), and both depend on nothing but the
shapes: the same boundaries give the same result until a boundary load
changes them.  The key is a digest of the shapes' WKB (plus the parameters),
so there is nothing to invalidate — changed boundaries are simply another
key.  The memo is bounded by the points it holds and shared by the threads
of one worker.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import shapely

T = TypeVar("T")


def shapes_digest(*arrays: Sequence[Any], extra: tuple[Any, ...] = ()) -> bytes:
    """A digest of geometry arrays (None and empty geometries included) and parameters."""
    h = hashlib.blake2b(repr(extra).encode(), digest_size=20)
    for geoms in arrays:
        wkb = shapely.to_wkb(np.asarray(geoms, dtype=object))
        h.update(len(wkb).to_bytes(8, "little"))
        for item in wkb:
            h.update(b"\0" if item is None else item)
    return h.digest()


class DisplayMemo:
    """The most recent results of one computation, holding at most ``max_points`` in all.

    Memory follows the points held (the topology's arcs are Python lists, about
    120 bytes a point): the default keeps about 180 MB at worst, e.g. a few
    district maps and a dozen township maps; a result larger than the whole
    budget is computed every time and not kept.
    """

    def __init__(self, max_points: int = 1_500_000) -> None:
        self.max_points = max_points
        self._results: OrderedDict[bytes, tuple[int, Any]] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    def get(self, key: bytes, points: int, compute: Callable[[], T]) -> T:
        """The stored result for ``key``, or ``compute()`` (stored when it fits)."""
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                return self._results[key][1]
        result = compute()
        if points <= self.max_points:
            with self._lock:
                if key not in self._results:
                    self._results[key] = (points, result)
                    self._held += points
                while self._held > self.max_points:
                    _, (dropped, _) = self._results.popitem(last=False)
                    self._held -= dropped
        return result

    def clear(self) -> None:
        with self._lock:
            self._results.clear()
            self._held = 0
