"""`up`, `down`, `status`: the devcloud as a whole.

`up` is idempotent: every step checks before it acts, a process that died or
stopped answering is started again, a service whose config changed is
restarted, and a second `up` on a healthy devcloud only looks. If any step
fails, every process this `up` started is stopped again before the error is
reported, so nothing is left half-started.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from dataclasses import dataclass, field, replace
from types import ModuleType

from devcloud import clouds, identity, infra, seed, system
from devcloud import state as state_file
from devcloud.errors import DevcloudError
from devcloud.layout import MAX_PODS, Layout, Pod
from devcloud.proc import Proc, Supervisor, port_in_use
from devcloud.services import cascade, cinder, glance, horizon, keystone, neutron, nova, placement

POD_SERVICES: tuple[ModuleType, ...] = (placement, neutron, cinder, nova)
# an independent pod's own Keystone and Glance (a shared pod uses the shared ones)
OWN_SERVICES: tuple[ModuleType, ...] = (keystone, glance)


def supervisor(layout: Layout) -> Supervisor:
    return Supervisor(layout.run, layout.log, layout.root / "home")


def infra_procs(layout: Layout) -> list[Proc]:
    return [infra.mariadb_proc(layout), infra.epmd_proc(layout), infra.rabbit_proc(layout)]


def pod_modules(pod: Pod) -> tuple[ModuleType, ...]:
    """The service modules that run in the pod: with its own Keystone and Glance if it is
    independent (each module takes the pod: `configure`, `setup`, `procs`)."""
    return (*OWN_SERVICES, *POD_SERVICES) if pod.independent else POD_SERVICES


def pod_procs(layout: Layout, pod: Pod) -> list[Proc]:
    return [p for module in pod_modules(pod) for p in module.procs(layout, pod)]


def all_procs(layout: Layout, pods: list[Pod]) -> list[Proc]:
    shared = [
        *keystone.procs(layout),
        *glance.procs(layout),
        *cascade.procs(layout),
        *horizon.procs(layout),
    ]
    return [*infra_procs(layout), *shared, *(p for pod in pods for p in pod_procs(layout, pod))]


@dataclass
class Clock:
    """Phase timings of one `up`, printed and appended to `log/up-history.jsonl`."""

    start: float = field(default_factory=time.monotonic)
    phases: dict[str, float] = field(default_factory=dict)

    def mark(self, phase: str) -> None:
        self.phases[phase] = round(time.monotonic() - self.start, 1)
        print(f"  {self.phases[phase]:6.1f} s  {phase}", flush=True)


def resolve_pods(layout: Layout, requested: int | None) -> int:
    """How many pods `up` should have (the current number unless asked otherwise)."""
    current = state_file.load(layout.state_file)
    count = requested or (current.pods if current else 2)
    if not 1 <= count <= MAX_PODS:
        raise DevcloudError("devcloud", f"--pods must be between 1 and {MAX_PODS}, not {count}")
    if current and current.port_base != layout.port_base and supervisor(layout).records():
        raise DevcloudError(
            "devcloud",
            f"the devcloud in {layout.root} runs with --port-base {current.port_base}; "
            "run `devcloud down` before changing it",
        )
    return count


def resolve_independent(layout: Layout, count: int, requested: int | None) -> frozenset[int]:
    """Which of the `count` pods `up` should make independent: the last `requested`
    ones, or (not asked) those that are independent now and remain.

    A pod that exists keeps its kind: turning a shared pod into an independent one
    (or back) would mean moving its accounts and everything it hosts, so it is refused.
    """
    current = state_file.load(layout.state_file)
    have = set(current.independent) if current else set()
    if requested is None:
        wanted = {n for n in have if n <= count}
    elif 0 <= requested <= count:
        wanted = set(range(count - requested + 1, count + 1))
    else:
        raise DevcloudError(
            "devcloud", f"--independent must be between 0 and --pods ({count}), not {requested}"
        )
    existing = min(count, current.pods) if current else 0
    changed = [n for n in range(1, existing + 1) if (n in wanted) != (n in have)]
    if changed:
        raise DevcloudError("devcloud", _kind_change_refusal(layout, changed[0], have))
    return frozenset(wanted)


def _kind_change_refusal(layout: Layout, number: int, have: set[int]) -> str:
    kind = "independent" if number in have else "shared"
    afresh = "start afresh with `devcloud down --wipe`"
    # removing pod N also removes the pods after it: `up --pods N-1` (at least one pod)
    fix = f"remove it first (`devcloud up --pods {number - 1}`) and add it again, or {afresh}"
    return (
        f"pod{number} of the devcloud in {layout.root} is {kind}, and a pod keeps its "
        f"kind: {fix if number > 1 else afresh}. Nothing was started."
    )


def preflight(layout: Layout, sup: Supervisor, procs: list[Proc]) -> None:
    """Refuse before starting anything if a port we need is taken by another program."""
    for proc in procs:
        if proc.port is None or sup.running(proc.name):
            continue
        if port_in_use(proc.port):
            raise DevcloudError(
                proc.name,
                f"port 127.0.0.1:{proc.port} is already in use by another program; "
                "stop it or choose another --port-base. Nothing was started.",
            )


def configure(layout: Layout, pods: list[Pod]) -> set[str]:
    """Write every config file; return the processes whose config changed."""
    changed: set[str] = set()
    if keystone.configure(layout):
        changed.update(p.name for p in keystone.procs(layout))
    if glance.configure(layout):
        changed.update(p.name for p in glance.procs(layout))
    if cascade.configure(layout):
        changed.update(p.name for p in cascade.procs(layout))
    if horizon.configure(layout):
        changed.update(p.name for p in horizon.procs(layout))
    for pod in pods:
        for module in pod_modules(pod):
            if module.configure(layout, pod):
                changed.update(p.name for p in module.procs(layout, pod))
    return changed


async def start(sup: Supervisor, procs: list[Proc]) -> None:
    await asyncio.gather(*(sup.ensure(p) for p in procs))


async def _bring_up(
    layout: Layout, pods: list[Pod], sup: Supervisor, clock: Clock
) -> dict[str, str]:
    """Everything after the packages, as a task graph: each step awaits only what it needs.

    Returns the independent pods Cascade refused to register, with why (see `up`).
    """
    await infra.prepare_mariadb(layout)
    infra.prepare_rabbit(layout)
    # processes whose config changed are stopped now and started below with the new one
    await sup.stop_all(sorted(configure(layout, pods)))

    async def mariadb() -> None:
        await sup.ensure(infra.mariadb_proc(layout))
        await infra.ensure_db_user(layout)
        clock.mark("mariadb ready")

    async def rabbit() -> None:
        await sup.ensure(infra.epmd_proc(layout))
        await sup.ensure(infra.rabbit_proc(layout))
        await infra.ensure_vhosts(layout, pods)
        clock.mark("rabbitmq ready")

    async with asyncio.TaskGroup() as group:
        db = group.create_task(mariadb())
        mq = group.create_task(rabbit())

        async def keystone_ready() -> None:
            await db
            await keystone.setup(layout)
            await start(sup, keystone.procs(layout))
            await identity.register(layout, pods)
            clock.mark("keystone ready, accounts and catalog registered")

        ks = group.create_task(keystone_ready())

        async def glance_ready() -> None:
            await db
            await glance.setup(layout)
            await ks
            await start(sup, glance.procs(layout))
            await seed.ensure_images(layout)
            clock.mark("glance ready, images uploaded")

        async def own_keystone(pod: Pod) -> None:
            """An independent pod's Keystone: migrated, started, its accounts and catalog."""
            await db
            await keystone.setup(layout, pod)
            await start(sup, keystone.procs(layout, pod))
            await identity.register_pod(layout, pod)
            clock.mark(f"{pod.name} keystone ready, accounts and catalog registered")

        async def pod_ready(pod: Pod, identity_ready: asyncio.Task[None]) -> None:
            await db
            # the pod's own Keystone (if any) is set up by `own_keystone`, before the rest
            setups = [m.setup(layout, pod) for m in pod_modules(pod) if m is not keystone]
            await asyncio.gather(*setups)
            clock.mark(f"{pod.name} databases migrated")
            # the service users must exist before the services start (nova-compute
            # reports to Placement at once)
            await identity_ready
            await mq
            procs = pod_procs(layout, pod)
            # APIs first: nova-compute registers with Placement as it starts
            await start(sup, [p for p in procs if p.url])
            await start(sup, [p for p in procs if not p.url])
            clock.mark(f"{pod.name} services answering")
            await seed.seed_pod(layout, pod)
            clock.mark(f"{pod.name} ready (compute mapped, flavors, networks)")

        glance_task = group.create_task(glance_ready())

        async def horizon_ready() -> None:
            await horizon.setup(layout)
            await ks
            await start(sup, horizon.procs(layout))
            clock.mark("horizon ready")

        group.create_task(horizon_ready())
        pod_tasks = [
            group.create_task(
                pod_ready(pod, group.create_task(own_keystone(pod)) if pod.independent else ks)
            )
            for pod in pods
        ]

        async def cascade_ready() -> dict[str, str]:
            await db
            await cascade.setup(layout)
            await ks
            await start(sup, cascade.procs(layout))
            # the pods are registered once they are ready to serve
            await glance_task
            for task in pod_tasks:
                await task
            refused = await cascade.register_pods(layout, pods)
            await cascade.ensure_flavors(layout)
            # a pod Cascade does not know has no AZ at the top to put its network in
            registered = [p for p in pods if p.name not in refused]
            await cascade.ensure_external_networks(layout, registered)
            clock.mark("cascade-api ready, pods registered")
            return refused

        registration = group.create_task(cascade_ready())
    return registration.result()


async def remove_pods(layout: Layout, sup: Supervisor, pods: list[Pod]) -> None:
    """Take pods out of the devcloud: processes, databases, vhosts, regions and files.

    Their endpoints are already gone: `identity.register` keeps only the current pods'.
    """
    prefixes = tuple(f"{p.name}-" for p in pods)
    await sup.stop_all([r.name for r in sup.records() if r.name.startswith(prefixes)])
    for pod in pods:
        await infra.drop_databases(layout, f"{pod.name}_")
        await infra.delete_vhost(layout, pod)
        shutil.rmtree(layout.root / pod.name, ignore_errors=True)
    await identity.remove_regions(layout, [p.region for p in pods])


def resolve_default_az(layout: Layout, pods: list[Pod], requested: str | None) -> str:
    """cascade-api's `[scheduling] default_az` after `up`: `requested` ("" for none), else
    the one kept, unless its pod is gone. A requested AZ no pod serves is an error."""
    zones = {f"az{p.number}" for p in pods}
    if requested is None:
        return layout.default_az if layout.default_az in zones else ""
    if requested and requested not in zones:
        raise DevcloudError(
            "devcloud", f"--default-az {requested}: no pod serves it (one of {sorted(zones)})"
        )
    return requested


async def up(
    layout: Layout,
    requested_pods: int | None,
    requested_independent: int | None = None,
    requested_default_az: str | None = None,
) -> dict[str, float]:
    """Bring the devcloud up (or repair it), adding or removing pods; returns phase timings.

    If Cascade refuses to register an independent pod (a Cascade that does not take
    them yet), everything else is finished and left running, and then the refusal is
    raised: the pod itself can be used directly, and the next `up` tries again.
    """
    count = resolve_pods(layout, requested_pods)
    layout = replace(layout, independent=resolve_independent(layout, count, requested_independent))
    pods = layout.pods(count)
    layout = replace(layout, default_az=resolve_default_az(layout, pods, requested_default_az))
    current = state_file.load(layout.state_file)
    removed = layout.pods(current.pods)[count:] if current else []
    sup = supervisor(layout)
    clock = Clock()
    preflight(layout, sup, all_procs(layout, pods))
    await system.ensure_packages(layout)
    clock.mark("debian packages")
    await system.ensure_venv(layout)
    clock.mark("openstack virtualenv")
    try:
        refused = await _bring_up(layout, pods, sup, clock)
        if removed:
            await remove_pods(layout, sup, removed)
            clock.mark("removed " + ", ".join(p.name for p in removed))
    except BaseException as exc:
        await sup.stop_all(list(sup.started))
        first = _first_devcloud_error(exc)
        if first is not None:
            raise first from None
        raise
    shape = state_file.State(
        count, layout.port_base, layout.az_format, sorted(layout.independent), layout.default_az
    )
    state_file.save(layout.state_file, shape)
    clouds.write(layout, pods)
    clock.mark("devcloud ready")
    entry = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "pods": count,
        "independent": sorted(layout.independent),
        "default_az": layout.default_az,
        # "from nothing running" when this `up` started every process of the devcloud
        "started": len(sup.started),
        "processes": len(all_procs(layout, pods)),
        "phases": clock.phases,
    }
    with (layout.log / "up-history.jsonl").open("a") as fh:
        fh.write(json.dumps(entry) + "\n")
    if refused:
        raise _registration_refused(sup, refused)
    return clock.phases


def _registration_refused(sup: Supervisor, refused: dict[str, str]) -> DevcloudError:
    """The error `up` ends with when Cascade did not take independent pods."""
    names = ", ".join(refused)
    why = "; ".join(f"{name}: {reason}" for name, reason in refused.items())
    first = next(iter(refused))
    return DevcloudError(
        "cascade-api",
        f"Cascade did not register the independent pod(s) {names} ({why}). Everything else "
        "is up and left running, the pods included: use them directly, e.g. "
        f"`openstack --os-cloud {first}-admin catalog list`; `devcloud up` tries the "
        "registration again",
        sup.log_path("cascade-api"),
    )


def _first_devcloud_error(exc: BaseException) -> DevcloudError | None:
    if isinstance(exc, DevcloudError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _first_devcloud_error(inner)
            if found is not None:
                return found
    return None


async def down(layout: Layout, wipe: bool = False) -> list[str]:
    """Stop every process the devcloud started (by its pid files); `wipe` also deletes its data.

    The OpenStack virtualenv survives a wipe: it only depends on the pinned versions.
    """
    stopped = await supervisor(layout).stop_all()
    if wipe and layout.root.exists():
        for child in layout.root.iterdir():
            if child != layout.venv and child != layout.bin:
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    return stopped


@dataclass(frozen=True)
class Row:
    name: str
    port: int | None
    pid: int | None
    state: str  # answering | running (RPC only) | running, not answering | stopped
    log: str

    @property
    def healthy(self) -> bool:
        return self.state in ("answering", "running (RPC only)")


async def status(layout: Layout) -> list[Row]:
    """One row per process the devcloud has or should have."""
    sup = supervisor(layout)
    current = state_file.load(layout.state_file)
    expected = all_procs(layout, layout.pods(current.pods)) if current else []
    names = [p.name for p in expected]
    names += [r.name for r in sup.records() if r.name not in names]
    ports = {p.name: p.port for p in expected}

    async def row(name: str) -> Row:
        record = sup.running(name)
        log = str(sup.log_path(name))
        if record is None:
            return Row(name, ports.get(name), None, "stopped", log)
        if not (record.url or record.port):
            return Row(name, None, record.pid, "running (RPC only)", log)
        state = "answering" if await sup.answers(record) else "running, not answering"
        return Row(name, record.port, record.pid, state, log)

    return list(await asyncio.gather(*(row(n) for n in names)))
