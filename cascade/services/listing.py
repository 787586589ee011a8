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
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cascade.db.models import Pod
from cascade.pods import fanout
from cascade.pods.client import PodUnavailable
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
            x, y = get(a), get(b)
            if x.__class__ is str and y.__class__ is str:
                # the common case (times, ids, names), without `_compare_values`' calls: a
                # merge over 1,000 pods compares thousands of items
                if x == y:
                    continue
                x, y = x.casefold().rstrip(" "), y.casefold().rstrip(" ")
                found = (x > y) - (x < y)
            else:
                found = _compare_values(x, y)
            if found:
                return -found if descending else found
        return 0


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
MIN_BATCH = 100  # items asked of each pod at least (Nova's lower bound for cells)


def batch_size(size: int, pods: int) -> int:
    """Items asked of each of `pods` pods for a page of `size`: its share with a tenth
    more, at least MIN_BATCH, at most `size` (Nova's "distributed" batches over cells).
    A pod whose batch the merge uses up is asked for the next one (`Pages.merged`), so
    1,000 pods do not each send a full page of which the merge keeps a thousandth."""
    if pods <= 1:
        return size
    return min(size, max(-(-size * 11 // (pods * 10)), MIN_BATCH))  # ceil, in integers


class Bound:
    """The `size` best items seen so far over every pod's part of one page (a heap whose
    top is the worst of them): an item that sorts after all of them cannot make the page,
    nor can what its pod has after it. Parts are cut there as they arrive, so a list over
    10,000 pods holds about a page of decoded items rather than every pod's batch
    (100,000 servers' dicts: 500 MiB that the process kept after the answer)."""

    def __init__(self, order: Order, size: int) -> None:
        self.order = order
        self.size = size

        def reversed_order(a: Item, b: Item) -> int:
            return order.compare(b, a)

        self._worst_first = functools.cmp_to_key(reversed_order)
        self._heap: list[Any] = []

    def keep(self, items: list[Item]) -> int:
        """How many of `items` (in order) may still make the page."""
        heap, compare = self._heap, self.order.compare
        if self.size <= 0:
            return 0
        for n, item in enumerate(items):
            if len(heap) < self.size:
                heapq.heappush(heap, self._worst_first(item))
            elif compare(item, heap[0].obj) < 0:
                heapq.heapreplace(heap, self._worst_first(item))
            else:
                return n
        return len(items)

    def cut(self, page: PodPage) -> PodPage:
        """`page` without the items that cannot make the page; a pod cut short has
        nothing more to give this page."""
        kept = self.keep(page.items)
        if kept < len(page.items):
            del page.items[kept:]
            page.more = False
        return page


# an item a pod lists that the top does not show (the target of a server's move under
# way): it keeps its place in its pod's part (the pod's positions stay the pod's own) but
# is never part of a page
HIDDEN = "cascade:hidden"


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
    more: bool = False  # the pod may have items after these (its last answer was full)


@dataclass
class Pages:
    """Every pod's part of one page, the pods left out, and where the page leaves them."""

    order: Order
    size: int
    cursors: Cursors
    query: str
    pages: list[PodPage] = field(default_factory=list)
    unavailable: list[Pod] = field(default_factory=list)
    read: ReadPod | None = None  # how a pod whose batch ran out is read on
    batch: int = 0
    # pods not asked, known to hold nothing of this page: the next resumes at their start
    untouched: list[Pod] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(p.count for p in self.pages if not p.stub)

    def headers(self) -> dict[str, str]:
        return fanout.unavailable_header([p.name for p in self.unavailable])

    async def merged(self) -> list[tuple[PodPage, Item]]:
        """The first `size` items of every pod's part, in order, each with its part: a
        heap over the parts that stops at `size`; a part used up whose pod may have more
        is read on first (its next batch after its last item). A pod that does not
        answer then is left out from there on, and named with the others."""
        heap: list[tuple[Any, int, int]] = []  # (sort key, part, place in its items)
        for n, page in enumerate(self.pages):
            if page.items:
                heap.append((self.order.key(page.items[0]), n, 0))
        heapq.heapify(heap)
        shown: list[tuple[PodPage, Item]] = []
        while heap and len(shown) < self.size:
            _, n, place = heapq.heappop(heap)
            page = self.pages[n]
            if not page.items[place].get(HIDDEN):
                shown.append((page, page.items[place]))
            place += 1
            if place == len(page.items) and page.more and len(shown) < self.size:
                await self._read_on(page)
            if place < len(page.items):
                heapq.heappush(heap, (self.order.key(page.items[place]), n, place))
        return shown

    async def _read_on(self, page: PodPage) -> None:
        """The pod's next batch, after the last item of its part, added to the part."""
        assert self.read is not None
        page.more = False
        try:
            chunk = await self.read(page.pod, str(page.items[-1]["id"]), self.batch)
        except PodUnavailable:
            self.unavailable.append(page.pod)
            return
        page.items.extend(chunk.items)
        page.more = len(chunk.items) >= self.batch

    def remember(self, shown: list[tuple[PodPage, Item]]) -> None:
        """Where each pod resumes after `shown` (what `merged` gave, for a full page),
        for the next page."""
        if not shown:
            return
        positions: dict[str, str | None] = {pod.id: None for pod in self.untouched}
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
    batches: Mapping[str, int] | None = None,
) -> Pages:
    """Every pod's first `size` items after `marker` (a top id, in `marker_pod`; its sort
    values from `marker_item`), asked in parallel; `query` names the list (the filters,
    sort and size, with who asks) for the cursors. Each pod is asked for its share of
    the page (`batch_size`), or what `batches` says for it (by pod id: what the routing
    table knows it holds of a first page), at most `size`; a pod whose batch the merge
    uses up is read on."""
    cursors = registry.cache(Cursors)
    batch = batch_size(size, len(pods))
    found = Pages(order, size, cursors, query, read=read, batch=batch)
    positions: dict[str, str | None] | None = None
    if marker is not None and (positions := cursors.get((query, marker))) is not None:
        cursors.move_to_end((query, marker))  # the least recently used go first

    bound = Bound(order, size)

    async def one(pod: Pod) -> PodPage:
        return bound.cut(await part(pod))

    async def part(pod: Pod) -> PodPage:
        if marker is None:
            start: str | None = None
        elif marker_pod is not None and pod.id == marker_pod.id:
            start = marker
        elif positions is not None and pod.id in positions:
            start = positions[pod.id]
        else:
            assert marker_item is not None
            return await _scan(pod, read, order, batch, await marker_item())
        limit = min(batches.get(pod.id, batch), size) if batches else batch
        chunk = await read(pod, start, limit)
        return PodPage(pod, chunk.items, start, chunk.count, more=len(chunk.items) >= limit)

    asked = await fanout.gather(registry, service, pods, one)
    found.pages = asked.values
    found.unavailable = asked.unavailable
    return found


async def _scan(pod: Pod, read: ReadPod, order: Order, size: int, marker: Item) -> PodPage:
    """The pod read from its start: its first `size` items that sort after `marker`
    (more, when they came in one answer), and its position before them (the last item
    read that does not)."""
    position: str | None = None
    resume: str | None = None  # where the next call reads on from
    kept: list[Item] = []
    count = 0
    more = True
    while len(kept) < size and more:
        chunk = await read(pod, resume, SCAN_CHUNK)
        count = count or chunk.count
        for item in chunk.items:
            if kept or order.compare(item, marker) > 0:
                kept.append(item)
            else:
                position = str(item["id"])
        more = len(chunk.items) >= SCAN_CHUNK
        if chunk.items:
            resume = str(chunk.items[-1]["id"])
    return PodPage(pod, kept, position, count, more=more)
