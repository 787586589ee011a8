"""At a drain's end the copies made in the pod go, but those what stays there still uses
(a server's ports, networks, subnets and groups, flavors), the pod's external network,
and what serves a router spanning pods; a copy the pod refuses to delete is named."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from cascade.db.models import NetResource, Pod, Routing
from cascade.jobs.registry import JobContext
from cascade.services import drain_release
from cascade.services.audit.repairs import CannotRepair
from tests.unit.fakenova import FakeCloud

pytestmark = pytest.mark.fake_pods
NOW = datetime.now(UTC).replace(tzinfo=None)


def _net(
    kind: str, object_id: str, parent: str | None = None, body: dict[str, Any] | None = None
) -> NetResource:
    return NetResource(
        id=object_id,
        kind=kind,
        project_id="p1",
        parent_id=parent,
        body=body or {},
        created_at=NOW,
        updated_at=NOW,
    )


def _copy(kind: str, top_id: str, pod: Pod) -> Routing:
    return Routing(
        id=f"{kind}-{top_id}",
        resource_type=kind,
        top_id=top_id,
        pod_id=pod.id,
        bottom_id=f"b-{top_id}",
        project_id="p1",
        status="active",
        created_at=NOW,
    )


async def test_what_stays_uses_keeps_its_copies(
    app: Starlette, pods: FakeCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    deleted: list[tuple[str, str]] = []

    async def delete(registry: Any, pod: Pod, kind: str, bottom: str, request_id: str) -> None:
        if bottom == "b-busy-sg":
            raise CannotRepair("pod pod1 answered 409 for a security-groups delete")
        deleted.append((kind, bottom))

    monkeypatch.setattr(drain_release, "delete_in_pod", delete)
    async with app.state.sessions() as db:
        pod = (await db.scalars(select(Pod).where(Pod.name == "pod1"))).one()
        db.add_all(
            [
                _net("network", "ext", None, {"router:external": True}),
                _net("subnet", "ext-sub", "ext"),
                _net("network", "kept-net"),
                _net("subnet", "kept-sub", "kept-net"),
                _net("security_group", "kept-sg"),
                _net(
                    "port",
                    "kept-port",
                    "kept-net",
                    {
                        "device_id": "vm-stays",
                        "network_id": "kept-net",
                        "fixed_ips": [{"subnet_id": "kept-sub"}],
                        "security_groups": ["kept-sg"],
                    },
                ),
                _net("network", "gone-net"),
                _net("port", "gone-port", "gone-net", {"device_id": "vm-moved"}),
            ]
        )
        copies = [
            ("server", "vm-stays"),
            ("network", "ext"),
            ("subnet", "ext-sub"),
            ("network", "kept-net"),
            ("subnet", "kept-sub"),
            ("security_group", "kept-sg"),
            ("port", "kept-port"),
            ("network", "gone-net"),
            ("port", "gone-port"),
            ("security_group", "busy-sg"),
            ("flavor", "f1"),
            ("volume_type", "t1"),
            ("router", "r1"),
        ]
        db.add_all([_copy(kind, top, pod) for kind, top in copies])
        await db.commit()
        ctx = JobContext(app.state.sessions, app.state.conf, "test", app.state.registry)
        left = await drain_release.release(ctx, db, pod, "req-test")
    # ports before networks; the server that stays keeps its own, and the flavors
    assert deleted == [
        ("port", "b-gone-port"),
        ("network", "b-gone-net"),
        ("volume_type", "b-t1"),
    ]
    assert [(e["resource_type"], e["top_id"]) for e in left] == [
        ("security_group", "busy-sg"),
        ("router", "r1"),
    ]
    async with app.state.sessions() as db:
        routed = {r.top_id for r in (await db.scalars(select(Routing))).all()}
    assert routed == {top for _, top in copies} - {"gone-port", "gone-net", "t1"}
