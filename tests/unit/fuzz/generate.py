"""Odd requests for an endpoint, drawn from a `random.Random`.

Pure: the same generator serves the in-process suite (hypothesis drives the `Random`,
see `strategies`) and `bin/devcloud fuzz` (a seeded `Random`). A request is what goes on
the wire: a percent-encoded ASCII path, a query string, header bytes and body bytes, with
`labels` naming each odd thing put into it (the harness uses them to tell a known,
expected-for-now failure class from a new one).
"""

from __future__ import annotations

import json
import random
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from tests.unit.fuzz.catalogue import PARAM, Endpoint, slot

Json = Any
World = Mapping[str, Sequence[str]]  # slot (see catalogue.slot) -> real ids
TOKENS = ("admin-token", "member-token", "other-token")


@dataclass(frozen=True)
class FuzzRequest:
    endpoint: Endpoint
    method: str
    path: str  # percent-encoded, ASCII: as sent on the wire
    query: str  # ASCII, without "?"
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    labels: frozenset[str] = field(default_factory=frozenset)

    @property
    def target(self) -> str:
        return self.path + (f"?{self.query}" if self.query else "")

    def excerpt(self, size: int = 200) -> str:
        text = self.body[:size].decode("utf-8", "backslashreplace")
        return text + ("..." if len(self.body) > size else "")

    def __str__(self) -> str:
        heads = ", ".join(f"{k.decode()}: {v!r}" for k, v in self.headers)
        return f"{self.method} {self.target} [{heads}] {self.excerpt()!r} {sorted(self.labels)}"


# -- path parameters ---------------------------------------------------------------------

# (wire text, labels): a segment exactly as it is sent (already percent-encoded)
HOSTILE_SEGMENTS: tuple[tuple[str, frozenset[str]], ...] = (
    ("..", frozenset({"dot-segment"})),
    ("%2e%2e", frozenset({"dot-segment"})),
    (".", frozenset({"dot-segment"})),
    ("%2E", frozenset({"dot-segment"})),
    ("a%2Fb", frozenset({"encoded-slash"})),
    ("%2F..%2F..", frozenset({"encoded-slash", "dot-segment"})),
    ("%00", frozenset({"control-path"})),
    ("a%0d%0aX-Injected:%201", frozenset({"control-path"})),
    ("%09tab", frozenset({"control-path"})),
    ("%C3%A9t%C3%A9", frozenset({"non-ascii-path"})),
    ("%E2%80%AE", frozenset({"non-ascii-path"})),
    ("%ED%A0%80", frozenset({"invalid-utf8-path"})),  # a surrogate, as UTF-8 bytes
    ("%FF%FE", frozenset({"invalid-utf8-path"})),
    ("a" * 300, frozenset({"long-path"})),
    ("b" * 5000, frozenset({"long-path"})),
    ("-1", frozenset()),
    ("0", frozenset()),
    ("99999999999999999999999999", frozenset()),
    ("%27%20OR%201%3D1", frozenset()),
    ("%25", frozenset()),
    ("x%20y", frozenset()),
    ("null", frozenset()),
)

# what follows a routed object (`/servers/{id}/...`): real sub-resources and odd ones
TAILS: tuple[tuple[str, frozenset[str]], ...] = (
    ("action", frozenset()),
    ("metadata", frozenset()),
    ("metadata/k1", frozenset()),
    ("os-interface", frozenset()),
    ("os-interface/..", frozenset({"dot-segment"})),
    ("os-volume_attachments", frozenset()),
    ("os-instance-actions", frozenset()),
    ("ips", frozenset()),
    ("tags/t1", frozenset()),
    ("%2e%2e/%2e%2e/os-keypairs", frozenset({"dot-segment"})),
    ("../../servers/detail", frozenset({"dot-segment"})),
    ("a/b/c/d/e/f", frozenset()),
    ("%00", frozenset({"control-path"})),
)


def segment(rng: random.Random, real: Sequence[str]) -> tuple[str, frozenset[str]]:
    """A path parameter: a real id of the world (half the time), else a random UUID or
    something hostile."""
    roll = rng.random()
    if real and roll < 0.5:
        return quote(rng.choice(real), safe=""), frozenset()
    if roll < 0.65:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4)), frozenset()
    return rng.choice(HOSTILE_SEGMENTS)


def fill(rng: random.Random, endpoint: Endpoint, world: World) -> tuple[str, frozenset[str]]:
    """The endpoint's template with each parameter filled."""
    labels: set[str] = set()

    def one(match: Any) -> str:
        name = match.group(1)
        if match.group(0).endswith(":path}"):
            text, odd = rng.choice(TAILS)
        else:
            text, odd = segment(rng, world.get(slot(endpoint.template, name), ()))
        labels.update(odd)
        return text

    return PARAM.sub(one, endpoint.template), frozenset(labels)


# -- bodies ------------------------------------------------------------------------------

UUID0 = "00000000-0000-4000-8000-000000000000"
# placeholders for the world's ids (see `sample`): slot names in angle brackets
SERVER, VOL, NET, SUBNET, PORT, GROUP, TYPE, FLAVOR = (
    f"<{slot}>"
    for slot in (
        "server_id",
        "volumes",
        "networks",
        "subnets",
        "ports",
        "security-groups",
        "type_id",
        "flavor_id",
    )
)
# a valid-looking body per resource, chosen by the template's last literal segment
SAMPLES: dict[str, Json] = {
    "servers": {
        "server": {"name": "f", "flavorRef": FLAVOR, "imageRef": UUID0, "networks": "auto"}
    },
    "os-keypairs": {"keypair": {"name": "fk", "public_key": "ssh-ed25519 AAAA fuzz"}},
    "os-server-groups": {"server_group": {"name": "g", "policies": ["anti-affinity"]}},
    "os-server-external-events": {
        "events": [{"name": "network-changed", "server_uuid": SERVER, "tag": "t"}]
    },
    "flavors": {"flavor": {"name": "fz", "ram": 64, "vcpus": 1, "disk": 1}},
    "os-extra_specs": {"extra_specs": {"hw:cpu_policy": "dedicated"}},
    "os-quota-sets": {"quota_set": {"instances": 10, "cores": 20, "volumes": 5}},
    "os-quota-class-sets": {"quota_class_set": {"instances": 10}},
    "os-services": {"status": "disabled", "disabled_reason": "fuzz", "forced_down": False},
    "os-aggregates": {"aggregate": {"name": "ag", "availability_zone": "az1"}},
    "images": {"cache": [{"id": UUID0}]},
    "action": {"os-start": None},
    "metadata": {"metadata": {"k": "v"}},
    "os-interface": {"interfaceAttachment": {"net_id": NET}},
    "os-volume_attachments": {"volumeAttachment": {"volumeId": VOL}},
    "volumes": {"volume": {"size": 1, "name": "fv"}},
    "snapshots": {"snapshot": {"volume_id": VOL, "name": "fs"}},
    "backups": {"backup": {"volume_id": VOL, "name": "fb"}},
    "restore": {"restore": {"volume_id": VOL, "name": "r"}},
    "attachments": {"attachment": {"volume_uuid": VOL, "instance_uuid": SERVER}},
    "groups": {"group": {"group_type": TYPE, "volume_types": [TYPE], "name": "fg"}},
    "group_snapshots": {"group_snapshot": {"group_id": UUID0, "name": "gs"}},
    "types": {"volume_type": {"name": "ft", "extra_specs": {"k": "v"}}},
    "extra_specs": {"extra_specs": {"k": "v"}},
    "group_types": {"group_type": {"name": "fgt", "group_specs": {"k": "v"}}},
    "group_specs": {"group_specs": {"k": "v"}},
    "encryption": {"encryption": {"provider": "luks", "control_location": "front-end"}},
    "qos-specs": {"qos_specs": {"name": "fq", "consumer": "back-end", "read_iops_sec": "10"}},
    "delete_keys": {"keys": ["read_iops_sec"]},
    "os-volume-transfer": {"transfer": {"volume_id": VOL, "name": "tr"}},
    "volume-transfers": {"transfer": {"volume_id": VOL, "name": "tr"}},
    "accept": {"accept": {"auth_key": "abc"}},
    "default-types": {"default_type": {"volume_type": "__DEFAULT__"}},
    "os-volume-manage": {"volume": {"host": "h@b#p", "ref": {"source-name": "x"}}},
    "os-snapshot-manage": {"snapshot": {"volume_id": UUID0, "ref": {"source-name": "x"}}},
    "networks": {"network": {"name": "fn", "admin_state_up": True}},
    "subnets": {"subnet": {"network_id": NET, "cidr": "10.9.0.0/24", "ip_version": 4}},
    "ports": {"port": {"network_id": NET, "fixed_ips": [{"ip_address": "10.9.0.9"}]}},
    "security-groups": {"security_group": {"name": "fsg", "description": "d"}},
    "security-group-rules": {
        "security_group_rule": {
            "security_group_id": GROUP,
            "direction": "ingress",
            "protocol": "tcp",
            "port_range_min": 22,
            "port_range_max": 22,
        }
    },
    "routers": {"router": {"name": "fr", "external_gateway_info": {"network_id": NET}}},
    "add_router_interface": {"subnet_id": SUBNET},
    "floatingips": {"floatingip": {"floating_network_id": NET}},
    "quotas": {"quota": {"network": 10, "port": 50}},
    "tags": {"tags": ["a", "b"]},
    "pods": {"pod": {"name": "fp", "region_name": "fp", "az": "az9"}},
    "bindings": {"binding": {"project_id": "p9", "az": "az1"}},
    "check": {},
    "redo": {},
}
ACTIONS: tuple[Json, ...] = (
    {"os-stop": None},
    {"reboot": {"type": "HARD"}},
    {"resize": {"flavorRef": "1"}},
    {"addFloatingIp": {"address": "1.2.3.4"}},
    {"os-extend": {"new_size": 2}},
    {"os-reset_status": {"status": "available"}},
    {"addTenantAccess": {"tenant": "p2"}},
    {"add_host": {"host": "h1"}},
    {"addProjectAccess": {"project": "p2"}},
    {"create-from-src": {"name": "x", "source_group_id": UUID0}},
    {"badAction": {}},
)


# more valid-looking bodies for some resources (sample picks one of these or SAMPLES')
ALTERNATIVES: dict[str, tuple[Json, ...]] = {
    "servers": (
        {
            "server": {
                "name": "f",
                "flavorRef": FLAVOR,
                "networks": [{"uuid": NET}, {"port": PORT}, {"uuid": NET, "fixed_ip": "10.1.0.7"}],
                "security_groups": [{"name": "default"}],
                "availability_zone": "az1",
                "key_name": "kp1",
                "min_count": 1,
                "block_device_mapping_v2": [
                    {
                        "boot_index": 0,
                        "uuid": VOL,
                        "source_type": "volume",
                        "destination_type": "volume",
                    }
                ],
            }
        },
        {
            "server": {
                "name": "f",
                "flavorRef": FLAVOR,
                "networks": "none",
                "block_device_mapping_v2": [
                    {
                        "boot_index": 0,
                        "uuid": UUID0,
                        "source_type": "image",
                        "destination_type": "volume",
                        "volume_size": 1,
                    }
                ],
            }
        },
    ),
    "os-interface": (
        {"interfaceAttachment": {"port_id": PORT}},
        {"interfaceAttachment": {"net_id": NET, "fixed_ips": [{"ip_address": "10.1.0.8"}]}},
        {},
    ),
    "volumes": (
        {"volume": {"size": 1, "source_volid": VOL}},
        {"volume": {"size": 1, "volume_type": TYPE, "availability_zone": "az2"}},
    ),
    "ports": (
        {"port": {"network_id": NET, "security_groups": [GROUP], "device_id": SERVER}},
        {"port": {"network_id": NET, "allowed_address_pairs": [{"ip_address": "10.0.0.9"}]}},
    ),
    "routers": (
        {"router": {"name": "r", "routes": [{"destination": "1.0.0.0/8", "nexthop": "10.1.0.9"}]}},
    ),
    "subnets": (
        {
            "subnet": {
                "network_id": NET,
                "cidr": "10.8.0.0/24",
                "ip_version": 4,
                "allocation_pools": [{"start": "10.8.0.10", "end": "10.8.0.20"}],
                "host_routes": [{"destination": "1.0.0.0/8", "nexthop": "10.8.0.1"}],
                "dns_nameservers": ["8.8.8.8"],
            }
        },
    ),
    "tags": ({"tags": ["x"] * 3},),
}


def sample(endpoint: Endpoint, world: World, rng: random.Random) -> Json:
    """A valid-looking body for the endpoint's resource, with the world's ids (mostly)
    where it names objects."""
    literal = [p for p in endpoint.template.split("/") if p and not p.startswith("{")]
    key = literal[-1] if literal else ""
    if key == "action" and rng.random() < 0.6:
        body: Json = rng.choice(ACTIONS)
    else:
        body = rng.choice((SAMPLES.get(key, {"name": "x"}), *ALTERNATIVES.get(key, ())))

    def real(match: re.Match[str]) -> str:
        ids = world.get(match.group(1), ())
        return rng.choice(ids) if ids and rng.random() < 0.8 else UUID0

    return json.loads(re.sub(r"<([a-z_-]+)>", real, json.dumps(body)))


def any_json(rng: random.Random, depth: int = 0) -> Json:
    """Any JSON value, small."""
    roll = rng.randrange(9 if depth < 3 else 6)
    if roll == 0:
        return None
    if roll == 1:
        return rng.choice((True, False))
    if roll == 2:
        return rng.choice((0, -1, 1, 2**31, -(2**63), 10**19, 3))
    if roll == 3:
        return rng.choice((0.5, -0.0, 1e308, 1e-300, 2.5))
    if roll == 4:
        return rng.choice(("", "x", " ", "null", "[]", "{}", "ÿé", "\u202e", "a\nb", "1"))
    if roll == 5:
        return rng.choice(([], {}, "true", "-1"))
    if roll == 6:
        return [any_json(rng, depth + 1) for _ in range(rng.randrange(3))]
    keys = ("name", "id", "size", "x", "")
    return {rng.choice(keys): any_json(rng, depth + 1) for _ in range(rng.randrange(3))}


def _paths(value: Json, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [here]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*here, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*here, i))
    return found


def _replace(value: Json, path: tuple[Any, ...], new: Json) -> Json:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replace(value[path[0]], path[1:], new)
    return copy


def mutated(rng: random.Random, body: Json) -> tuple[Json, frozenset[str]]:
    """`body` with one value (or the whole) replaced by something of another type, or a
    key removed or added."""
    paths = _paths(body)
    if rng.random() < 0.5:  # mostly the nested fields, which a handler reads last
        deepest = max(len(p) for p in paths)
        paths = [p for p in paths if len(p) >= max(deepest - 1, 1)] or paths
    where = rng.choice(paths)
    roll = rng.random()
    if roll < 0.15 and where and isinstance(body, dict | list):
        parent = _get(body, where[:-1])
        if isinstance(parent, dict):
            smaller = {k: v for k, v in parent.items() if k != where[-1]}
            return _replace(body, where[:-1], smaller), frozenset()
    if roll < 0.25:
        return _replace(body, where, {"unexpected": any_json(rng)}), frozenset()
    if roll < 0.35:
        return _replace(body, where, "s" * rng.choice((256, 1000))), frozenset({"long-string"})
    return _replace(body, where, any_json(rng)), frozenset()


def _get(value: Json, path: tuple[Any, ...]) -> Json:
    for step in path:
        value = value[step]
    return value


def body_for(rng: random.Random, endpoint: Endpoint, world: World) -> tuple[bytes, frozenset[str]]:
    """Bytes of a body, and its labels."""
    roll = rng.random()
    if roll < 0.08:
        return json.dumps(sample(endpoint, world, rng)).encode(), frozenset()
    if roll < 0.5:
        body, labels = mutated(rng, sample(endpoint, world, rng))
        return json.dumps(body).encode(), labels
    if roll < 0.65:
        return json.dumps(any_json(rng)).encode(), frozenset()
    raw: tuple[tuple[bytes, frozenset[str]], ...] = (
        (b"[" * 3000 + b"]" * 3000, frozenset({"nesting"})),
        (b'{"a":' * 1500 + b"1" + b"}" * 1500, frozenset({"nesting"})),
        (b'{"x": ' + b"9" * 30 + b"}", frozenset({"big-int"})),
        (b'{"x": 1e999}', frozenset({"non-finite"})),
        (b'{"x": NaN}', frozenset({"non-finite"})),
        (b'{"x": -Infinity}', frozenset({"non-finite"})),
        (b'{"x": "\\ud800"}', frozenset({"surrogate"})),
        (b'{"x": "\xff\xfe"}', frozenset({"invalid-utf8"})),
        (b"\xef\xbb\xbf{}", frozenset({"invalid-utf8"})),  # a BOM
        (b"", frozenset()),
        (b"not json", frozenset()),
        (b"{", frozenset()),
        (b"null", frozenset()),
        (json.dumps({"x": "y" * 65536}).encode(), frozenset({"too-large"})),
    )
    body, labels = rng.choice(raw)
    if body.startswith(b'{"x": ') and rng.random() < 0.5:
        # the odd value inside a body of the endpoint's resource, where a handler reads it
        valid = json.dumps(sample(endpoint, world, rng)).encode()
        odd = body[body.index(b":") + 1 : -1].strip()
        at = valid.find(b'"name": "')
        if at >= 0:
            end = valid.index(b'"', at + 9)
            body = valid[: at + 8] + odd + valid[end + 1 :]
    return body, labels


# -- headers and query ---------------------------------------------------------------------

MICROVERSIONS = (
    b"compute 2.1",
    b"compute 2.96",
    b"compute 2.0",
    b"compute 2.200",
    b"compute latest",
    b"compute 2.x",
    b"compute 99999999999999999999999.1",
    b"volume 3.0",
    b"volume 3.71",
    b"volume 3.72",
    b"volume latest",
    b"volume three",
    b"network 2.0",
    b"",
    b",,,",
)


def headers_for(
    rng: random.Random, tokens: Sequence[str]
) -> tuple[list[tuple[bytes, bytes]], set[str]]:
    heads: list[tuple[bytes, bytes]] = []
    labels: set[str] = set()
    roll = rng.random()
    if roll < 0.85:
        heads.append((b"x-auth-token", rng.choice(tokens).encode()))
    elif roll < 0.9:
        heads.append((b"x-auth-token", "t\u00e9k\u20ac".encode()))
        labels.add("non-ascii-header")
    elif roll < 0.95:
        heads.append((b"x-auth-token", rng.choice((b"", b"bogus", b"a" * 5000, b"\x01\x7f"))))
    if rng.random() < 0.3:
        name = rng.choice((b"openstack-api-version", b"x-openstack-nova-api-version"))
        value = rng.choice(MICROVERSIONS)
        if name == b"x-openstack-nova-api-version":
            value = value.removeprefix(b"compute ")
        heads.append((name, value))
    if rng.random() < 0.1:
        value = rng.choice(("\u00e9t\u00e9".encode(), b"\x00", b"\xff"))
        name = rng.choice(
            (b"x-openstack-request-id", b"if-match", b"openstack-api-version", b"x-auth-project-id")
        )
        heads.append((name, value))
        labels.add("non-ascii-header")
    if rng.random() < 0.9:
        kind = rng.choice((b"application/json",) * 6 + (b"text/plain", b"application/x", b""))
        heads.append((b"content-type", kind))
    return heads, labels


QUERIES = (
    "limit=-1",
    "limit=abc",
    "limit=99999999999999999999999",
    "limit=0",
    "marker=" + UUID0,
    "marker=%00",
    "name=a%0d%0ab",
    "sort_key=nope&sort_dir=sideways",
    "sort=name:up",
    "sort_key=id&sort_dir=desc&sort_key=name",
    "all_tenants=1",
    "all_tenants=maybe",
    "all_projects=true",
    "fields=id&fields=%C3%A9",
    "name=%FF",
    "name=%ED%A0%80",
    "status=%0d%0a",
    "changes-since=yesterday",
    "tenant_id=p2",
    "project_id=p2",
    "with_count=yes",
    "tags=a,,b",
    "ip_version=six",
    "detailed=2",
    "user_id=%00",
    "a" * 3000 + "=1",
    "&&&=&=",
)


def query_for(rng: random.Random) -> tuple[str, frozenset[str]]:
    """Junk query parameters (or none), and their labels."""
    if rng.random() < 0.7:
        return "", frozenset()
    query = "&".join(rng.choice(QUERIES) for _ in range(rng.randrange(1, 3)))
    odd = {"%00": "control-path", "%0d": "control-path", "%FF": "invalid-utf8-path"}
    odd |= {"%ED%A0": "invalid-utf8-path", "%C3%A9": "non-ascii-path"}
    return query, frozenset(label for text, label in odd.items() if text in query)


def request(
    rng: random.Random, endpoint: Endpoint, world: World, tokens: Sequence[str] = TOKENS
) -> FuzzRequest:
    """One odd request for `endpoint`, the parameters filled from `world` or hostile."""
    path, labels = fill(rng, endpoint, world)
    heads, head_labels = headers_for(rng, tokens)
    body = b""
    body_labels: frozenset[str] = frozenset()
    if endpoint.method in ("POST", "PUT", "PATCH") or rng.random() < 0.1:
        body, body_labels = body_for(rng, endpoint, world)
    if body:
        heads.append((b"content-length", str(len(body)).encode()))
    query, query_labels = query_for(rng)
    return FuzzRequest(
        endpoint,
        endpoint.method,
        path,
        query,
        tuple(heads),
        body,
        labels | head_labels | body_labels | query_labels,
    )
