"""The pure parts of `devcloud bench --images`: the copy job's times, throughput, the
memory windows, the report and its block in docs/benchmarks.md."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devcloud.bench_images import (
    BASELINE,
    BEGIN,
    DIRECT,
    END,
    HEADING,
    METHOD,
    MIB,
    READ_INDEPENDENT,
    READ_SHARED,
    READ_TOP_INDEPENDENT,
    READ_TOP_SHARED,
    TOP_AGAIN,
    TOP_NEW,
    Copy,
    JobRun,
    Results,
    Spread,
    Window,
    breakdown,
    command,
    copy_status,
    glance_root,
    is_bench,
    job_run,
    leased_pid,
    mib_per_s,
    render,
    replace_block,
    stamp,
    window,
)
from devcloud.bench_network import Boot
from devcloud.errors import DevcloudError

T0 = datetime(2026, 12, 6, 8, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0.fromtimestamp(T0.timestamp() + seconds, UTC)


def job(status: str, updated: float, leased_by: str | None = None) -> dict[str, object]:
    return {
        "status": status,
        "created_at": "2026-12-06T08:00:00",
        "updated_at": at(updated).replace(tzinfo=None).isoformat(),
        "leased_by": leased_by,
        "attempts": 0,
    }


def test_spread_and_throughput() -> None:
    assert Spread.of([3.0, 1.0, 2.0]) == Spread(3, 2.0, 1.0, 3.0)
    assert mib_per_s(100 * MIB, 2.0) == 50.0
    with pytest.raises(ValueError):
        mib_per_s(MIB, 0.0)
    with pytest.raises(ValueError):
        Spread.of([])


def test_stamps_without_a_zone_are_utc() -> None:
    assert stamp("2026-12-06T08:00:00.250000") == datetime(2026, 12, 6, 8, 0, 0, 250000, UTC)
    assert stamp("2026-12-06T08:00:00+00:00") == T0


def test_leased_pid_is_the_middle_of_a_worker_name() -> None:
    assert leased_pid("host:4129:0a1b2c3d") == 4129
    assert leased_pid("my:host:4129:0a1b2c3d") == 4129
    assert leased_pid(None) is None
    assert leased_pid("nonsense") is None


def test_job_run_is_claimed_at_its_first_running_view_and_done_at_its_last() -> None:
    seen = [
        job("queued", 0.0),
        job("running", 0.2, "host:4129:abc"),
        job("running", 0.2, "host:4129:abc"),
        job("running", 3.5, "host:4129:abc"),  # the lease renewed: not the claim
        job("done", 4.2),
    ]
    found = job_run(seen)
    assert found.claimed == at(0.2) and found.finished == at(4.2)
    assert found.own == pytest.approx(4.0)
    assert found.total == pytest.approx(4.2)
    assert found.worker_pid == 4129


def test_job_run_never_seen_running_has_no_own_time() -> None:
    found = job_run([job("queued", 0.0), job("done", 1.0)])
    assert found.own is None and found.total == pytest.approx(1.0)
    with pytest.raises(ValueError):
        job_run([job("running", 0.5)])


def test_copy_status_reads_the_pods_entry_and_fails_on_a_failed_job() -> None:
    copies = {
        "copies": [
            {"pod_name": "pod1", "status": "shared"},
            {"pod_name": "pod3", "status": "creating", "job_status": "running"},
        ]
    }
    assert copy_status(copies, "pod3") == "creating"
    assert copy_status(copies, "pod1") == "shared"
    with pytest.raises(DevcloudError):
        copy_status(copies, "pod9")
    failed = {"copies": [{"pod_name": "pod3", "status": "creating", "job_status": "failed"}]}
    with pytest.raises(DevcloudError):
        copy_status(failed, "pod3")


def test_window_baseline_is_the_median_before_and_peak_the_highest_during() -> None:
    samples = [(t / 10, 1000 + t) for t in range(0, 100)]  # 1000 KiB growing by 1 a sample
    start, end = 5.0, 7.0
    found = window(samples, start, end)
    before = [1000 + t for t in range(int((start - BASELINE) * 10), 50)]
    assert found.baseline == sorted(before)[len(before) // 2 - 1] + 0.5
    assert found.peak == 1070 and found.after == 1070
    assert found.growth == pytest.approx(1070 - found.baseline)
    with pytest.raises(ValueError):
        window(samples, 100.0, 101.0)


def test_names_and_urls() -> None:
    assert is_bench("bench-img-copy-100-0") and not is_bench("tiny") and not is_bench(None)
    assert glance_root("http://127.0.0.1:20080/image/v2/") == "http://127.0.0.1:20080/image"
    assert glance_root("http://127.0.0.1:23929") == "http://127.0.0.1:23929"


def copy(size: int, seconds: float, growth_kib: int) -> Copy:
    run = JobRun(T0, at(0.2), at(seconds - 0.3), 4129, 0)
    memory = {
        "cascade-api": Window(100_000.0, 100_500, 100_400),
        "cascade-worker": Window(90_000.0, 90_000 + growth_kib, 90_100),
    }
    return Copy(size, seconds, run, seconds / 2, memory, post=seconds - 0.1, to_queued=0.1)


def test_breakdown_splits_the_create_to_active_time() -> None:
    # queued 0.1 s after the create, claimed 0.2 s later, done at 3.7 s, seen active at 4.0 s
    assert breakdown(100, [copy(100, 4.0, 0)]) == (
        "100 MiB: the create to the job queued 0.10 s, queued to claimed 0.20 s, the job's "
        "run 3.50 s, done to the copy seen active 0.20 s"
    )
    unseen = Copy(100, 4.0, JobRun(T0, None, at(3.0), None, 0), 2.0, {})
    assert breakdown(100, [unseen]) is None


def results(**changes: object) -> Results:
    base: dict[str, object] = {
        "when": datetime(2026, 12, 6, 8, 0, tzinfo=UTC),
        "cores": 2,
        "memory_gib": 24.0,
        "pods": ["pod1", "pod2", "pod3"],
        "runs": 3,
        "requests": 200,
        "boots": {
            TOP_NEW: [Boot(1.4, 2.5), Boot(1.2, 2.2), Boot(1.3, 2.4)],
            TOP_AGAIN: [Boot(0.3, 1.3), Boot(0.3, 1.2), Boot(0.3, 1.4)],
            DIRECT: [Boot(0.2, 1.1), Boot(0.2, 1.0), Boot(0.2, 1.2)],
        },
        "copies": [copy(100, 4.0, 2048), copy(100, 5.0, 1024), copy(300, 11.0, 3072)],
        "reads": {
            READ_TOP_INDEPENDENT: [0.030, 0.032, 0.031],
            READ_INDEPENDENT: [0.020, 0.021, 0.022],
            READ_TOP_SHARED: [0.028, 0.029, 0.030],
            READ_SHARED: [0.019, 0.020, 0.021],
        },
        "pids": {"cascade-api": 4128, "cascade-worker": 4129},
        "hashing": 0.4,
    }
    base.update(changes)
    return Results(**base)  # type: ignore[arg-type]


def test_render_has_every_part() -> None:
    text = render(results())
    assert command(3, 200) in text
    for path in (TOP_NEW, TOP_AGAIN, DIRECT):
        assert path in text
    assert "**2.40 s** (2.20 s - 2.50 s)" in text  # TOP_NEW: median (min - max)
    assert "new image **2.18 x**" in text
    # 100 MiB copies: median 4.5 s -> 22 MiB/s; the floor half of it
    assert "| 100 MiB | 2 | 4.50 s: **22 MiB/s** (20 - 25)" in text
    # against the floor: create → active, then the job's own run; the POST waits for the copy
    assert "| 2.00 x; 1.78 x | 4.40 s |" in text
    assert "| 300 MiB | 1 |" in text
    assert (
        "| 100 MiB | cascade-worker | 87.9 MiB | 89.9 MiB | **+2.0 MiB** (+2.0 MiB, +1.0 MiB)"
        in text
    )
    assert "| 300 MiB | cascade-worker |" in text and "**+3.0 MiB**" in text
    assert "pod3 (independent): +10.0 ms, **1.48 x**" in text
    assert "pod1 (shared): +9.0 ms, **1.45 x**" in text
    assert "The copies ran in cascade-worker (pid 4129)" in text
    assert "MD5 and SHA-512 of 100 MiB" in text
    assert "Where a copy's time goes (medians): 100 MiB: the create to the job queued" in text


def test_render_leaves_out_parts_not_measured() -> None:
    text = render(results(boots={}, copies=[], reads={}, hashing=None))
    assert "Server create" not in text and "Resident memory" not in text
    assert "GET `/servers/{id}`" not in text and "The copies ran" not in text


def test_render_says_failed_attempts_and_disturbances() -> None:
    failed = copy(100, 4.0, 0)
    failed = Copy(
        failed.size,
        failed.to_active,
        JobRun(T0, None, at(3.0), None, 1),
        failed.floor,
        failed.memory,
    )
    text = render(results(copies=[failed], attempts={"copies": 2}))
    assert "1 copy attempt(s) failed" in text
    assert "not seen running" in text
    assert "copies 2 times" in text


def test_replace_block_appends_a_missing_section_with_its_method_then_keeps_notes() -> None:
    doc = "# Benchmarks\n\n## Other\n\ntext\n"
    first = replace_block(doc, "figures one")
    assert first.startswith(doc.rstrip())
    assert f"{HEADING}\n\n{METHOD}\n\n{BEGIN}\nfigures one\n{END}\n" in first
    noted = first + "\nA note written by hand.\n"
    second = replace_block(noted, "figures two")
    assert "figures one" not in second and "figures two" in second
    assert "A note written by hand." in second and second.count(HEADING) == 1
    assert "## Other\n\ntext" in second
