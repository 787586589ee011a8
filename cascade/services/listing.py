"""Lists across pods: a total sort order, a k-way merge, and where each pod resumes.

Every pod is asked for the same sort keys, with `created_at` and the id
appended when missing (as Nova appends its defaults), so each pod's page is
already in the order the merge uses and ties can never differ between pods.
Values compare the way the pods' databases do: strings without regard to
case, missing values (NULL) first in ascending order and last in
descending order.

A page that ends at item M leaves each pod at the last of its items that
sorted before or at M: `Cursors` remembers that, keyed by the query and M,
so the next page asks every pod from where it stopped instead of scanning.
"""

from __future__ import annotations

import functools
import heapq
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

Item = dict[str, Any]
Getter = Callable[[Item], Any]


class BadSort(Exception):
    pass


@dataclass(frozen=True)
class SortSpec:
    keys: tuple[str, ...]
    dirs: tuple[str, ...]

    def query(self) -> list[tuple[str, str]]:
        """The sort as query parameters for the pods."""
        params: list[tuple[str, str]] = []
        for key, direction in zip(self.keys, self.dirs, strict=True):
            params += [("sort_key", key), ("sort_dir", direction)]
        return params


def sort_spec(
    keys: Sequence[str],
    dirs: Sequence[str],
    *,
    default_key: str,
    default_dir: str,
    tie_keys: Sequence[str],
) -> SortSpec:
    """Nova's rules: the defaults when none is given, directions padded with the first
    one, unknown directions and more directions than keys refused (`BadSort`)."""
    keys = list(keys) or [default_key]
    dirs = list(dirs) or [default_dir]
    for direction in dirs:
        if direction not in ("asc", "desc"):
            raise BadSort("Unknown sort direction, must be 'desc' or 'asc'")
    if len(dirs) > len(keys):
        raise BadSort("Sort direction size exceeds sort key size")
    dirs += [dirs[0]] * (len(keys) - len(dirs))
    for key in tie_keys:
        if key not in keys:
            keys.append(key)
            dirs.append(dirs[0])
    return SortSpec(tuple(keys), tuple(dirs))


def _normal(value: Any) -> Any:
    if isinstance(value, str):
        return value.casefold().rstrip(" ")
    if isinstance(value, bool):
        return int(value)
    return value


def _compare_values(a: Any, b: Any) -> int:
    a, b = _normal(a), _normal(b)
    if a is None or b is None:
        return (a is not None) - (b is not None)  # NULL first when ascending
    try:
        return int(a > b) - int(a < b)
    except TypeError:  # mixed types (e.g. "" and 0): compare as text
        return (str(a) > str(b)) - (str(a) < str(b))


class Order:
    """A total order over items by a `SortSpec`; `getters` maps each sort key to the
    item's value (a key without a getter does not order, as Nova ignores it)."""

    def __init__(self, spec: SortSpec, getters: dict[str, Getter]) -> None:
        self.spec = spec
        self.fields = [
            (getters[key], direction == "desc")
            for key, direction in zip(spec.keys, spec.dirs, strict=True)
            if key in getters
        ]
        self.key = functools.cmp_to_key(self.compare)

    def compare(self, a: Item, b: Item) -> int:
        for get, descending in self.fields:
            found = _compare_values(get(a), get(b))
            if found:
                return -found if descending else found
        return 0


def _tagged(n: int, page: Sequence[Item]) -> Iterable[tuple[int, Item]]:
    # a function, not a nested generator expression: `n` must be bound per page
    return ((n, item) for item in page)


def merge(pages: Iterable[Sequence[Item]], order: Order, limit: int) -> list[tuple[int, Item]]:
    """The first `limit` items of the pods' sorted pages in `order`, each with the
    index of the page it came from."""
    streams = [_tagged(n, page) for n, page in enumerate(pages)]
    merged = heapq.merge(*streams, key=lambda pair: order.key(pair[1]))
    out: list[tuple[int, Item]] = []
    for pair in merged:
        if len(out) >= limit:
            break
        out.append(pair)
    return out


def after(items: Iterable[Item], marker: Item, order: Order) -> list[Item]:
    """The items that sort after `marker` (used when a pod must be scanned)."""
    return [item for item in items if order.compare(item, marker) > 0]


class Cursors:
    """Where each pod resumes after a page: (query, last id) -> {pod id: its last id or
    None}, bounded, least recently used first out. Memory of one API process only: a
    miss costs a scan, never a wrong page."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._data: OrderedDict[tuple[str, str], dict[str, str | None]] = OrderedDict()

    def get(self, query: str, marker: str) -> dict[str, str | None] | None:
        found = self._data.get((query, marker))
        if found is not None:
            self._data.move_to_end((query, marker))
        return found

    def put(self, query: str, marker: str, positions: dict[str, str | None]) -> None:
        self._data[(query, marker)] = positions
        self._data.move_to_end((query, marker))
        while len(self._data) > self.size:
            self._data.popitem(last=False)
