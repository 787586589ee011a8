"""Command line: `devcloud up|down|status|env [options]` (run through `bin/devcloud`)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from devcloud import (
    bench,
    bench_audit,
    bench_cascade,
    bench_images,
    bench_move,
    bench_network,
    bench_policy,
    bench_replicas,
    bench_routers,
    bench_routings,
    bench_scale,
    bench_volume,
    cloud,
    playbook,
    sdk,
    tempest,
)
from devcloud import clouds as clouds_yaml
from devcloud import state as state_file
from devcloud.errors import DevcloudError
from devcloud.layout import PASSWORD, Layout
from devcloud.services import horizon
from devcloud.tempest import SERVICES as TEMPEST_SERVICES
from devcloud.tempest import WHOLE_SUITES

CHECKOUT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = Path(os.environ.get("DEVCLOUD_DIR", CHECKOUT / ".devcloud"))


def layout_from(args: argparse.Namespace) -> Layout:
    root = Path(args.dir).resolve()
    saved = state_file.load(root / "devcloud.json")
    base = args.port_base or (saved.port_base if saved else 20000)
    az_format = args.az_format or (saved.az_format if saved else "az{n}")
    # `up` works out the pods anew (cloud.resolve_independent); the rest use the recorded ones
    independent = frozenset(saved.independent if saved else ())
    default_az = saved.default_az if saved else ""
    return Layout(
        root=root,
        port_base=base,
        az_format=az_format,
        independent=independent,
        default_az=default_az,
    )


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="devcloud",
        description="A local multi-region OpenStack (one Keystone and Glance, N pods, the "
        "last K of them clouds of their own) for Cascade to front. Everything lives under "
        "--dir and listens on 127.0.0.1.",
    )
    top.add_argument(
        "--dir",
        default=str(DEFAULT_DIR),
        help="folder holding all state, logs and the OpenStack virtualenv "
        "(default: $DEVCLOUD_DIR or .devcloud in the checkout)",
    )
    top.add_argument(
        "--port-base",
        type=int,
        default=None,
        help="ports are derived from this (default 20000, see devcloud/layout.py)",
    )
    top.add_argument(
        "--az-format",
        default=None,
        help="the AZ name inside pod N, a format with {n} (default 'az{n}')",
    )
    sub = top.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="bring the devcloud up, or repair it (idempotent)")
    up.add_argument(
        "--pods",
        type=int,
        default=None,
        help="number of pods (default: as it is, or 2 for a new devcloud)",
    )
    up.add_argument(
        "--independent",
        type=int,
        default=None,
        metavar="K",
        help="the last K pods are independent clouds, each with its own Keystone and "
        "Glance (default: the pods that are independent stay so, new pods are shared; "
        "0 for a new devcloud)",
    )
    up.add_argument(
        "--default-az",
        default=None,
        metavar="AZ",
        help="the top AZ (azN) where Cascade places a server or volume that names none and "
        "whose project has no binding yet, as `[scheduling] default_az` (e.g. az3 to run "
        "tempest through the top against an independent pod3); '' for Cascade's own "
        "choice (default: as it is)",
    )
    down = sub.add_parser("down", help="stop every process the devcloud started")
    down.add_argument(
        "--wipe", action="store_true", help="also delete all data and config (keeps the virtualenv)"
    )
    sub.add_parser("status", help="each service, its port, whether it answers, its log")
    tempest = sub.add_parser(
        "tempest",
        help="run the tempest baseline against one pod directly, or (--cloud cascade) "
        "the compute tests directly and through Cascade, compared test for test",
    )
    tempest.add_argument("--pod", type=int, default=1, help="pod number (default 1)")
    tempest.add_argument(
        "--cloud",
        choices=("pod", "cascade"),
        default="pod",
        help="pod: the baseline against --pod; cascade: the --service selection against "
        "--pod and through the top, compared in tempest/compare.json (compute)",
    )
    tempest.add_argument(
        "--reuse-direct",
        action="store_true",
        help="with --cloud cascade: compare with the last direct run instead of running it",
    )
    tempest.add_argument(
        "--top-only",
        action="store_true",
        help="with --cloud cascade: run only the half through the top, no comparison",
    )
    tempest.add_argument(
        "--compare-only",
        action="store_true",
        help="with --cloud cascade: run nothing, compare the last direct and top runs",
    )
    tempest.add_argument(
        "--direct-only",
        action="store_true",
        help="with --cloud cascade: run only the direct half (against --pod), no comparison",
    )
    tempest.add_argument(
        "--service",
        choices=(*TEMPEST_SERVICES, *(s for s in WHOLE_SUITES if s not in TEMPEST_SERVICES)),
        default=None,
        help="with --cloud cascade: which selection to compare (default compute; network: "
        "the Networking API, compared in tempest/compare-network.json; image: the Image API, "
        "the top's Glance directly and through Cascade's /image, in "
        "tempest/compare-image.json); with --whole, one suite (default: all four, one after "
        "the other)",
    )
    tempest.add_argument(
        "--whole",
        action="store_true",
        help="with --cloud cascade: the whole API suite (tempest.api.compute, volume, network, "
        "image) instead of the selection, compared in tempest/compare-<suite>-whole.json",
    )
    tempest.add_argument("--concurrency", type=int, default=2)
    sdk_cmd = sub.add_parser(
        "sdk",
        help="run openstacksdk's functional tests (compute, block_storage, network, image) "
        "against one pod, or (--cloud cascade) against the pod and through the top, "
        "compared test for test in sdk/compare.json",
    )
    sdk_cmd.add_argument("--pod", type=int, default=1, help="pod number (default 1)")
    sdk_cmd.add_argument(
        "--cloud",
        choices=("pod", "cascade"),
        default="pod",
        help="pod: only against --pod; cascade: against --pod and through the top, compared",
    )
    sdk_cmd.add_argument(
        "--reuse-direct",
        action="store_true",
        help="with --cloud cascade: compare with the last run against the pod",
    )
    sdk_cmd.add_argument(
        "--compare-only",
        action="store_true",
        help="with --cloud cascade: run nothing, compare the last two runs",
    )
    sdk_cmd.add_argument("--concurrency", type=int, default=2)
    ansible = sub.add_parser(
        "ansible",
        help="run the tenant playbook (openstack.cloud: network, router, security group, "
        "keypair, two servers, volume, floating IP) twice and its cleanup against one pod, "
        "or (--cloud cascade) against the pod and through the top; ansible/compare.json",
    )
    ansible.add_argument("--pod", type=int, default=1, help="pod number (default 1)")
    ansible.add_argument(
        "--cloud",
        choices=("pod", "cascade"),
        default="pod",
        help="pod: only against --pod; cascade: against --pod and through the top",
    )
    ansible.add_argument(
        "--keep", action="store_true", help="leave what the playbook made (no cleanup play)"
    )
    bench = sub.add_parser(
        "bench",
        help="print the devcloud's figures (memory, boot, volumes), or with --cascade "
        "Cascade's (overhead, fan-out, memory), with --network Cascade's Networking "
        "(server create, security group rules, job queue; written into docs/benchmarks.md), "
        "with --volume Cascade's Block Storage (volume create, volume lists; written into "
        "docs/benchmarks.md), with --images top images in the independent pod (boots, "
        "copies, memory, reads; written into docs/benchmarks.md)",
    )
    bench.add_argument(
        "--count",
        type=int,
        default=None,
        help="servers and volumes per pod (default 5); --volume: volumes for the list, "
        "spread over the pods (default 300)",
    )
    bench.add_argument(
        "--cascade",
        action="store_true",
        help="benchmark Cascade against the pods instead (devcloud/bench_cascade.py)",
    )
    bench.add_argument(
        "--network",
        action="store_true",
        help="benchmark Cascade's Networking instead (devcloud/bench_network.py)",
    )
    bench.add_argument(
        "--routers",
        action="store_true",
        help="benchmark a router and floating IPs across pods instead, side by side with "
        "pod1's Neutron (devcloud/bench_routers.py)",
    )
    bench.add_argument(
        "--volume",
        action="store_true",
        help="benchmark Cascade's Block Storage instead (devcloud/bench_volume.py)",
    )
    bench.add_argument(
        "--scale",
        action="store_true",
        help="benchmark one cascade-api in front of N stub pods instead, for each N of "
        "--pods (devcloud/bench_scale.py; the devcloud need not run; written into "
        "docs/benchmarks.md)",
    )
    bench.add_argument(
        "--audit",
        action="store_true",
        help="benchmark an audit of a stub pod with --objects servers and its effect on "
        "tenants' requests instead (devcloud/bench_audit.py; the devcloud need not run; "
        "written into docs/benchmarks.md)",
    )
    bench.add_argument(
        "--move",
        action="store_true",
        help="benchmark moving a server from pod1 to pod2 against booting one fresh instead "
        "(devcloud/bench_move.py; written into docs/benchmarks.md)",
    )
    bench.add_argument(
        "--images",
        action="store_true",
        help="benchmark top images in the independent pod (pod3) instead: boots that copy "
        "the image first, copy throughput against a straight Glance-to-Glance stream, "
        "cascade-api and cascade-worker memory during 100 and 300 MiB copies, GET "
        "/servers/{id} through the top against straight (devcloud/bench_images.py; written "
        "into docs/benchmarks.md)",
    )
    bench.add_argument(
        "--objects",
        default=",".join(str(n) for n in bench_audit.COUNTS),
        help="--audit: the numbers of objects in the audited pod; --policy: ports a project "
        "(default 1000,10000)",
    )
    bench.add_argument(
        "--policy",
        action="store_true",
        help="benchmark the Networking API's per-object rules on lists of --objects ports "
        "a project against the floor, in-process (devcloud/bench_policy.py; written into "
        "docs/benchmarks.md)",
    )
    bench.add_argument(
        "--routings",
        action="store_true",
        help="benchmark the routing table's lookups with --rows routings on the devcloud's "
        "MariaDB instead (devcloud/bench_routings.py; written into docs/benchmarks.md)",
    )
    bench.add_argument(
        "--rows", type=int, default=10_000_000, help="--routings: routings loaded (default 10M)"
    )
    bench.add_argument(
        "--pods",
        default=",".join(str(n) for n in bench_scale.COUNTS),
        help="--scale: the numbers of stub pods, comma-separated (default 2,10,100,1000,10000)",
    )
    bench.add_argument(
        "--requests",
        type=int,
        default=None,
        help="GET /servers/{id} per path: --cascade (default 500), --images (default 200)",
    )
    bench.add_argument(
        "--servers", type=int, default=200, help="--cascade: servers spread over the pods"
    )
    bench.add_argument(
        "--runs",
        type=int,
        default=None,
        help="--cascade: /servers/detail lists per path (default 20); --network: server "
        "creates per variant (default 5); --routers: operations per path (default 20); "
        "--volume: volume creates per path (default 50); --images: boots per path and "
        "copies per size (default 3)",
    )
    bench.add_argument(
        "--cleanup", action="store_true", help="--cascade: delete the benchmark's servers"
    )
    sub.add_parser("env", help='shell lines for the openstack CLI: eval "$(devcloud env)"')
    fuzz = sub.add_parser(
        "fuzz",
        help="send the property suite's odd requests to Cascade (devcloud/fuzz.py): counts "
        "by status class and every 5xx",
    )
    fuzz.add_argument("--requests", type=int, default=10000, help="how many (default 10000)")
    fuzz.add_argument("--seed", type=int, default=1, help="the generator's seed (default 1)")
    fuzz.add_argument("--concurrency", type=int, default=4, help="in flight (default 4)")
    return top


async def main_async(args: argparse.Namespace) -> int:
    layout = layout_from(args)
    if args.command == "up":
        print(f"devcloud: bringing up {layout.root}", flush=True)
        await cloud.up(layout, args.pods, args.independent, args.default_az)
        print(
            f"devcloud: ready. clouds.yaml: {layout.clouds_yaml}\n"
            '  eval "$(bin/devcloud env)"; openstack --os-cloud pod1 server list\n'
            f"  Horizon: {horizon.url(layout)} (demo, admin: password {PASSWORD})"
        )
    elif args.command == "down":
        stopped = await cloud.down(layout, wipe=args.wipe)
        print(f"devcloud: stopped {len(stopped)} processes" + (", wiped" if args.wipe else ""))
    elif args.command == "status":
        rows = await cloud.status(layout)
        if not rows:
            print(f"devcloud: nothing at {layout.root}")
            return 3
        print(f"{'SERVICE':24} {'PORT':>6} {'PID':>8}  {'STATE':24} LOG")
        for r in rows:
            print(f"{r.name:24} {r.port or '-':>6} {r.pid or '-':>8}  {r.state:24} {r.log}")
        return 0 if all(r.healthy for r in rows) else 3
    elif args.command == "tempest":
        return await _tempest(layout, args)
    elif args.command == "sdk":
        return await _sdk(layout, args)
    elif args.command == "ansible":
        return await _ansible(layout, args)
    elif args.command == "bench":
        current = state_file.load(layout.state_file)
        pods = layout.pods(current.pods if current else 0)
        runs_asked = (args.cascade, args.network, args.volume, args.routers, args.scale)
        others = (args.routings, args.audit, args.move, args.images, args.policy)
        if sum((*runs_asked, *others)) > 1:
            raise DevcloudError(
                "bench",
                "--cascade, --network, --volume, --routers, --scale, --routings, --audit, "
                "--move, --images and --policy are separate runs: pick one",
            )
        if args.images:
            runs = bench_images.RUNS if args.runs is None else args.runs
            requests = bench_images.REQUESTS if args.requests is None else args.requests
            print(await bench_images.run(layout, pods, runs, requests))
        elif args.move:
            runs = bench_move.RUNS if args.runs is None else args.runs
            print(await bench_move.run(layout, runs))
        elif args.audit:
            objects = [int(n) for n in args.objects.split(",")]
            print(await bench_audit.run(objects, write=True))
        elif args.policy:
            objects = [int(n) for n in args.objects.split(",")]
            print(await bench_policy.run(objects, write=True))
        elif args.routings:
            print(await bench_routings.run(layout, args.rows))
        elif args.scale:
            counts = [int(n) for n in args.pods.split(",")]
            print(await bench_scale.run(counts, write=True))
            print(await bench_replicas.run())
        elif args.volume:
            runs = bench_volume.RUNS if args.runs is None else args.runs
            count = bench_volume.COUNT if args.count is None else args.count
            print(await bench_volume.run(layout, pods, runs, count))
        elif args.routers:
            runs = bench_routers.RUNS if args.runs is None else args.runs
            print(await bench_routers.run(layout, pods, runs))
        elif args.network:
            runs = bench_network.RUNS if args.runs is None else args.runs
            print(await bench_network.run(layout, pods, runs))
        elif args.cascade:
            runs = 20 if args.runs is None else args.runs
            requests = 500 if args.requests is None else args.requests
            options = bench_cascade.Options(requests, args.servers, runs, args.cleanup)
            print(await bench_cascade.run(layout, pods, options))
        else:
            print(await bench.run_bench(layout, pods, 5 if args.count is None else args.count))
    elif args.command == "env":
        print(clouds_yaml.env(layout), end="")
    elif args.command == "fuzz":
        from devcloud import fuzz  # imports cascade's application: only for this command

        print(await fuzz.run(layout, args.requests, args.seed, args.concurrency))
    return 0


async def _tempest(layout: Layout, args: argparse.Namespace) -> int:
    pod = layout.pod(args.pod)
    if args.cloud == "pod":
        summary = await tempest.run_baseline(layout, pod, args.concurrency)
        print(_counts(layout, summary))
        return 1 if summary.failed else 0
    if args.whole:
        names = [args.service] if args.service else list(WHOLE_SUITES)
    else:
        names = [args.service or "compute"]
        if names[0] not in TEMPEST_SERVICES:
            raise DevcloudError("tempest", f"--service {names[0]} needs --whole")
    worse = False
    for name in names:
        if args.direct_only or args.top_only:
            if args.direct_only:
                target = tempest.direct_target(pod, name, args.whole)
            else:
                target = tempest.top_target(name, args.whole, pod)
            summary = await tempest.run_target(layout, target, args.concurrency)
            print(_counts(layout, summary))
            worse |= bool(summary.failed)
            continue
        report = await tempest.run_compare(
            layout,
            pod,
            args.concurrency,
            not (args.reuse_direct or args.compare_only),
            name,
            args.whole,
            top=not args.compare_only,
        )
        for side in ("direct", "top"):
            print(_counts(layout, tempest.Summary(**report[side])))
        diffs = report["differences"]
        where = tempest.compare_path(layout, name, args.whole, pod)
        print(f"{len(diffs)} tests differ ({where})" + (":" if diffs else ""))
        for row in diffs:
            print(f"  {row['direct']:>7} -> {row['top']:<7} {row['test']}\n      {row['reason']}")
        # the top is as good as the pod when no test that passes directly fails through it
        worse |= any(r["direct"] == "ok" for r in diffs)
    return 1 if worse else 0


async def _sdk(layout: Layout, args: argparse.Namespace) -> int:
    pod = layout.pod(args.pod)
    if args.cloud == "pod":
        summary = await sdk.run_target(layout, sdk.direct_target(pod), args.concurrency)
        print(_sdk_counts(layout, summary))
        return 1 if summary.failed else 0
    report = await sdk.run_compare(
        layout,
        pod,
        args.concurrency,
        direct=not (args.reuse_direct or args.compare_only),
        top=not args.compare_only,
    )
    for side in ("direct", "top"):
        print(_sdk_counts(layout, tempest.Summary(**report[side])))
    diffs = report["differences"]
    print(f"{len(diffs)} tests differ ({layout.root / 'sdk' / sdk.COMPARE_FILE})")
    for row in diffs:
        print(f"  {row['direct']:>7} -> {row['top']:<7} {row['test']}\n      {row['reason']}")
    return 1 if any(r["direct"] == "ok" for r in diffs) else 0


def _sdk_counts(layout: Layout, s: tempest.Summary) -> str:
    log = layout.log / f"sdk-{s.cloud}.log"
    return (
        f"openstacksdk functional tests against {s.cloud} (region {s.region}): {s.passed} "
        f"passed, {s.failed} failed, {s.skipped} skipped in {s.seconds:.0f} s; log: {log}"
    )


async def _ansible(layout: Layout, args: argparse.Namespace) -> int:
    pod = layout.pod(args.pod)
    targets = [playbook.direct_target(pod)]
    if args.cloud == "cascade":
        targets.append(playbook.top_target())
    report = await playbook.run_compare(layout, targets, cleanup=not args.keep)
    bad = False
    for name, side in report["targets"].items():
        for run_ in side["runs"]:
            print(f"ansible {name} {run_['play']:8} {playbook.recap_line(run_)}")
            for failure in run_["failures"]:
                print(f"      failed: {failure['task']}: {failure['reason']}")
        bad |= not side["idempotent"] or any(r["failed"] for r in side["runs"])
    print(f"results: {layout.root / 'ansible' / playbook.COMPARE_FILE}")
    return 1 if bad else 0


def _counts(layout: Layout, s: tempest.Summary) -> str:
    return (
        f"tempest against {s.cloud} (region {s.region}): {s.passed} passed, {s.failed} failed, "
        f"{s.skipped} skipped in {s.seconds:.0f} s (concurrency {s.concurrency}); "
        f"log: {layout.log / f'tempest-{s.cloud}.log'}"
    )


def main() -> None:
    args = parser().parse_args()
    try:
        code = asyncio.run(main_async(args))
    except DevcloudError as exc:
        print(exc.report(), file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
