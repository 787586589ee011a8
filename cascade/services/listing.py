"""Lists across pods: a total sort order, a k-way merge, where each pod resumes, and
`read_pages`, the one merged paged list every API's list of routed objects uses.

Every pod is asked for the same sort keys, with `created_at` and the id appended
(as Nova appends its defaults), so each pod's page is already in the merge's order
and ties never differ between pods. Values compare as the pods' databases do:
strings without regard to case, NULL first ascending and last descending. What to
show for a pod left out (`pods.fanout`) is the API's.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cascade.db.models import Pod
from cascade.pods import fanout
from cascade.pods.registry import PodRegistry

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


def merge(pages: Iterable[Sequence[Item]], order: Order, limit: int) -> list[tuple[int, Item]]:
    """The first `limit` items of the pods' sorted pages in `order`, each with the
    index of the page it came from."""
    streams = [zip(itertools.repeat(n), page) for n, page in enumerate(pages)]
    merged = heapq.merge(*streams, key=lambda pair: order.key(pair[1]))
    return list(itertools.islice(merged, max(limit, 0)))


def after(items: Iterable[Item], marker: Item, order: Order) -> list[Item]:
    """The items that sort after `marker` (used when a pod must be scanned)."""
    return [item for item in items if order.compare(item, marker) > 0]


class Cursors(OrderedDict[tuple[str, str], dict[str, str | None]]):
    """Where each pod resumes after a page: (query, last id) -> {pod id: its last id or
    None}, bounded, least recently used first out. Memory of one API process only: a
    miss costs a scan, never a wrong page."""

    size = 2048

    def put(self, key: tuple[str, str], positions: dict[str, str | None]) -> None:
        self[key] = positions
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


# --- the merged paged list ---------------------------------------------------------------

SCAN_CHUNK = 1000  # items asked per call when a pod is read from its start (max_limit)


@dataclass
class Chunk:
    """One pod's answer to one list call: its items in order and its count (with_count)."""

    items: list[Item]
    count: int = 0


def once(read: Callable[[], Awaitable[Item]]) -> Callable[[], Awaitable[Item]]:
    """`read` called at most once: the marker's sort values, wanted by every pod that must
    be scanned and by the stubs of pods left out (concurrent first calls share it)."""
    task: list[asyncio.Future[Item]] = []

    async def memo() -> Item:
        if not task:
            task.append(asyncio.ensure_future(read()))
        return await asyncio.shield(task[0])

    return memo


# a pod's items after its own position `marker` (None: its start), at most `limit`
ReadPod = Callable[[Pod, str | None, int], Awaitable[Chunk]]


@dataclass
class PodPage:
    """What one pod contributes to a page: its items after the marker, where it stood
    before them (None: its start; `known` False: not known, it was scanned), its count."""

    pod: Pod
    items: list[Item]
    start: str | None = None
    count: int = 0
    known: bool = True
    stub: bool = False  # items the routing table knows of a pod left out, not the pod's


@dataclass
class Pages:
    """Every pod's part of one page, the pods left out, and where the page leaves them."""

    order: Order
    size: int
    cursors: Cursors
    query: str
    pages: list[PodPage] = field(default_factory=list)
    unavailable: list[Pod] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(p.count for p in self.pages if not p.stub)

    def headers(self) -> dict[str, str]:
        return fanout.unavailable_header([p.name for p in self.unavailable])

    def merged(self) -> list[tuple[PodPage, Item]]:
        """The first `size` items of every pod's part, in order, each with its part."""
        found = merge([p.items for p in self.pages], self.order, self.size)
        return [(self.pages[n], item) for n, item in found]

    def remember(self, shown: list[tuple[PodPage, Item]]) -> None:
        """Where each pod resumes after `shown` (what `merged` gave, for a full page),
        for the next page."""
        if not shown:
            return
        positions: dict[str, str | None] = {}
        for page in self.pages:
            if page.known and not page.stub:
                positions[page.pod.id] = page.start
        for page, item in shown:
            if not page.stub:
                positions[page.pod.id] = str(item["id"])
        self.cursors.put((self.query, str(shown[-1][1]["id"])), positions)


async def read_pages(
    registry: PodRegistry,
    service: str,
    pods: Sequence[Pod],
    read: ReadPod,
    order: Order,
    size: int,
    query: str,
    *,
    marker: str | None = None,
    marker_pod: Pod | None = None,
    marker_item: Callable[[], Awaitable[Item]] | None = None,
) -> Pages:
    """Every pod's first `size` items after `marker` (a top id, in `marker_pod`; its sort
    values from `marker_item`), asked in parallel; `query` names the list (the filters,
    sort and size, with who asks) for the cursors."""
    cursors = registry.cache(Cursors)
    found = Pages(order, size, cursors, query)
    positions: dict[str, str | None] | None = None
    if marker is not None and (positions := cursors.get((query, marker))) is not None:
        cursors.move_to_end((query, marker))  # the least recently used go first

    async def one(pod: Pod) -> PodPage:
        if marker is None:
            start: str | None = None
        elif marker_pod is not None and pod.id == marker_pod.id:
            start = marker
        elif positions is not None and pod.id in positions:
            start = positions[pod.id]
        else:
            assert marker_item is not None
            return await _scan(pod, read, order, size, await marker_item())
        chunk = await read(pod, start, size)
        return PodPage(pod, chunk.items, start, chunk.count)

    asked = await fanout.gather(registry, service, pods, one)
    found.pages = asked.values
    found.unavailable = asked.unavailable
    return found


async def _scan(pod: Pod, read: ReadPod, order: Order, size: int, marker: Item) -> PodPage:
    """The pod read from its start: its first `size` items that sort after `marker`,
    and its position before them (the last item read that does not)."""
    position: str | None = None
    resume: str | None = None  # where the next call reads on from
    kept: list[Item] = []
    count = 0
    while len(kept) < size:
        chunk = await read(pod, resume, SCAN_CHUNK)
        count = count or chunk.count
        for item in chunk.items:
            if kept or order.compare(item, marker) > 0:
                kept.append(item)
            else:
                position = str(item["id"])
        if len(chunk.items) < SCAN_CHUNK:
            break
        resume = str(chunk.items[-1]["id"])
    return PodPage(pod, kept[:size], position, count)
