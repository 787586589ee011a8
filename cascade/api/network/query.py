"""Neutron's list query: filters, `fields`, sorting, pagination and their links.

Filters are attribute equality (a repeated key matches any of its values), with
Neutron's `tags`, `tags-any`, `not-tags`, `not-tags-any` and the ports'
`fixed_ips=ip_address=...`/`subnet_id=...`. Sorting and paging follow
Neutron's emulated helpers: `sort_key`/`sort_dir` pairs (None before any
value), `limit`, `marker` (an id; unknown: an empty page), `page_reverse`,
and `<collection>_links` with `next`/`previous` as Neutron builds them.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request

from cascade.services.network.errors import BadRequest

PAGING = ("limit", "marker", "page_reverse", "sort_key", "sort_dir", "fields")
TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")
STANDARD = ("id", "project_id", "tenant_id", "created_at", "updated_at", "revision_number")


@dataclass
class ListQuery:
    filters: dict[str, list[str]] = field(default_factory=dict)
    tags: dict[str, set[str]] = field(default_factory=dict)
    fields: list[str] = field(default_factory=list)
    sorts: list[tuple[str, bool]] = field(default_factory=list)
    limit: int = 0
    marker: str | None = None
    page_reverse: bool = False


def _limit(raw: str | None) -> int:
    if raw is None:
        return 0
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise BadRequest(f"Limit must be an integer 0 or greater and not '{raw}'")
    return value


def parse(request: Request, attributes: Collection[str]) -> ListQuery:
    """The list query of `request` for objects with `attributes`; 400 as Neutron says it
    for an attribute that cannot be filtered or sorted on, or a bad limit/direction."""
    params = request.query_params
    query = ListQuery(fields=[f for f in params.getlist("fields") if f])
    keys = [k for k in params.getlist("sort_key") if k]
    dirs = [d for d in params.getlist("sort_dir") if d]
    if len(keys) != len(dirs):
        raise BadRequest("The number of sort_keys and sort_dirs must be same")
    bad_keys = [k for k in keys if k not in attributes]
    if bad_keys:
        raise BadRequest(f"{bad_keys} is invalid attribute for sort_keys")
    bad_dirs = [d for d in dirs if d not in ("asc", "desc")]
    if bad_dirs:
        raise BadRequest(
            f"{bad_dirs} is invalid value for sort_dirs, valid value is 'asc' and 'desc'"
        )
    query.sorts = [(k, d == "asc") for k, d in zip(keys, dirs, strict=True)]
    query.limit = _limit(params.get("limit"))
    query.marker = params.get("marker") or None
    query.page_reverse = params.get("page_reverse", "False").lower() == "true"
    for key in params:
        if key in PAGING:
            continue
        if key in TAG_FILTERS:
            query.tags[key] = {t for v in params.getlist(key) for t in v.split(",") if t}
            continue
        if key not in attributes:
            raise BadRequest(f"[{key}] is invalid attribute for filtering")
        query.filters[key] = params.getlist(key)
    return query


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _matches_fixed_ips(ips: list[dict[str, str]], wanted: list[str]) -> bool:
    for spec in wanted:
        name, _, value = spec.partition("=")
        if name == "ip_address_substr":
            if not any(value in ip.get("ip_address", "") for ip in ips):
                return False
        elif not any(ip.get(name) == value for ip in ips):
            return False
    return True


def matches(item: Mapping[str, Any], query: ListQuery) -> bool:
    for key, wanted in query.filters.items():
        value = item.get(key)
        if key == "fixed_ips" and isinstance(value, list):
            if not _matches_fixed_ips(value, wanted):
                return False
            continue
        if isinstance(value, list):
            if not any(_text(v) in wanted for v in value):
                return False
            continue
        text = _text(value)
        if isinstance(value, bool):
            if text not in {w.lower() for w in wanted}:
                return False
        elif text not in wanted:
            return False
    tags = set(item.get("tags", []))
    if "tags" in query.tags and not query.tags["tags"] <= tags:
        return False
    if "tags-any" in query.tags and not query.tags["tags-any"] & tags:
        return False
    if "not-tags" in query.tags and query.tags["not-tags"] and query.tags["not-tags"] <= tags:
        return False
    return not ("not-tags-any" in query.tags and query.tags["not-tags-any"] & tags)


def _compare(a: Any, b: Any) -> int:
    if a is None or b is None:
        return (a is not None) - (b is not None)
    try:
        return int(a > b) - int(a < b)
    except TypeError:  # mixed types: compare as text, never fail the list
        return int(str(a) > str(b)) - int(str(a) < str(b))


def order(items: list[dict[str, Any]], query: ListQuery) -> list[dict[str, Any]]:
    """Sorted by the requested keys; with a limit, `id` ends the order as Neutron adds it."""
    sorts = list(query.sorts)
    if query.limit and "id" not in dict(sorts):
        sorts.append(("id", True))

    def cmp(x: dict[str, Any], y: dict[str, Any]) -> int:
        for key, ascending in sorts:
            result = _compare(x.get(key), y.get(key))
            if result:
                return result if ascending else -result
        return 0

    return sorted(items, key=functools.cmp_to_key(cmp)) if sorts else items


def page(items: list[dict[str, Any]], query: ListQuery) -> list[dict[str, Any]]:
    if not query.limit or not items:
        return items
    if query.marker:
        index = next((i for i, it in enumerate(items) if it["id"] == query.marker), None)
        if index is None:
            return []
    else:
        index = len(items) if query.page_reverse else 0
    if query.page_reverse:
        return items[max(index - query.limit, 0) : index]
    start = index + 1 if query.marker else index
    return items[start : start + query.limit]


def links(
    request: Request, base: str, items: list[dict[str, Any]], query: ListQuery
) -> list[dict[str, str]]:
    """Neutron's `next`/`previous` links for a page, pointing at the top's `base` URL."""
    if not query.limit:
        return []
    out = []

    def href(reverse: bool, marker: str | None) -> str:
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "marker"]
        params = [(k, v) for k, v in params if k != "page_reverse"]
        if marker is not None:
            params.append(("marker", marker))
        if reverse:
            params.append(("page_reverse", "True"))
        return f"{base}?{urlencode(params)}"

    if not (len(items) < query.limit and not query.page_reverse):
        out.append({"rel": "next", "href": href(False, items[-1]["id"] if items else None)})
    if not (len(items) < query.limit and query.page_reverse):
        out.append({"rel": "previous", "href": href(True, items[0]["id"] if items else None)})
    return out


def select_fields(item: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    if not fields:
        return item
    return {k: v for k, v in item.items() if k in fields}


def apply(
    request: Request, base: str, items: list[dict[str, Any]], query: ListQuery
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Filtered, sorted, paged and trimmed to `fields`; with the page's links."""
    chosen = page(order([i for i in items if matches(i, query)], query), query)
    return [select_fields(i, query.fields) for i in chosen], links(request, base, chosen, query)
