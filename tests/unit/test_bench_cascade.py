"""The pure parts of `devcloud bench --cascade`: percentiles, orders, plans, the docs block."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devcloud.bench_cascade import (
    BEGIN,
    CASCADE,
    DIRECT,
    END,
    PREFIX,
    SDK,
    TOGETHER,
    Listed,
    Results,
    Summary,
    busy,
    percentile,
    plan,
    render,
    replace_block,
    rotations,
    share,
    verdict,
)

HEADING = "## Cascade (issue: gateway core and Compute API)"


def test_percentile_interpolates_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 100.0


def test_percentile_ignores_input_order_and_takes_one_value() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([7.0], 99) == 7.0


@pytest.mark.parametrize("q", [-1, 101])
def test_percentile_refuses_out_of_range(q: float) -> None:
    with pytest.raises(ValueError):
        percentile([1.0], q)


def test_percentile_refuses_nothing() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)


def test_summary() -> None:
    s = Summary.of([0.01, 0.03, 0.02])
    assert (s.n, s.p50, s.low, s.high) == (3, 0.02, 0.01, 0.03)
    assert s.mean == pytest.approx(0.02)


def test_rotations_put_each_path_first_equally_often() -> None:
    orders = rotations(["a", "b", "c"], 6)
    assert orders[:3] == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]
    firsts = [o[0] for o in orders]
    assert firsts.count("a") == firsts.count("b") == firsts.count("c") == 2
    assert rotations(["x", "y"], 3) == [["x", "y"], ["y", "x"], ["x", "y"]]


def test_verdict_is_inclusive() -> None:
    assert verdict(1.15, 1.15) == "pass"
    assert verdict(1.151, 1.15) == "fail"


def test_share() -> None:
    assert share(200, 2) == [100, 100]
    assert share(7, 3) == [3, 2, 2]


def _server(n: int, az: str, status: str = "ACTIVE") -> Listed:
    return Listed(f"id-{az}-{n}", f"{PREFIX}{az}-{n:04d}", az, status)


def test_plan_creates_what_is_missing_with_free_names() -> None:
    existing = [_server(0, "az1"), _server(2, "az1")]
    todo = plan(existing, ["az1", "az2"], 6)
    assert todo.delete == []
    assert [s.id for s in todo.keep] == ["id-az1-0", "id-az1-2"]
    assert todo.create == [
        (f"{PREFIX}az1-0001", "az1"),
        (f"{PREFIX}az2-0000", "az2"),
        (f"{PREFIX}az2-0001", "az2"),
        (f"{PREFIX}az2-0002", "az2"),
    ]


def test_plan_deletes_errors_surplus_and_strangers() -> None:
    existing = [
        _server(0, "az1"),
        _server(1, "az1", "ERROR"),
        _server(2, "az1", "BUILD"),
        _server(3, "az1"),
        _server(0, "az2"),
        _server(0, "az9"),
    ]
    todo = plan(existing, ["az1", "az2"], 4)
    assert sorted(todo.delete) == ["id-az1-1", "id-az1-3", "id-az9-0"]
    assert [s.id for s in todo.keep] == ["id-az1-0", "id-az1-2", "id-az2-0"]
    # the ERROR server's name stays taken until it is gone
    assert todo.create == [(f"{PREFIX}az2-0001", "az2")]


def test_plan_of_a_complete_set_changes_nothing() -> None:
    existing = [_server(n, az) for az in ("az1", "az2") for n in range(3)]
    todo = plan(existing, ["az1", "az2"], 6)
    assert (todo.create, todo.delete, len(todo.keep)) == ([], [], 6)


def test_busy_finds_test_runs_but_not_itself() -> None:
    procs = [
        (10, "/venv/bin/python /venv/bin/tempest run --regex x"),
        (11, "python -m stestr.subunit_runner.run discover"),
        (12, "/work/.venv/bin/python3 /work/.venv/bin/pytest -q tests/unit"),
        (13, "python -m devcloud bench --cascade"),
        (14, "/usr/sbin/mariadbd --port 23306"),
        (15, "sh -c pytest"),
    ]
    found = busy(procs, ignore=[15])
    assert [f.split()[0] for f in found] == ["10", "11", "12"]


DOC = f"""# Benchmarks

## Devcloud

text

{HEADING}

Not measured yet.

## Later

more
"""


def test_replace_block_replaces_a_section_without_markers() -> None:
    out = replace_block(DOC, HEADING, "figures 1")
    assert f"{HEADING}\n\n{BEGIN}\nfigures 1\n{END}\n\n## Later\n\nmore\n" in out
    assert "Not measured yet." not in out
    assert out.startswith("# Benchmarks\n\n## Devcloud\n\ntext\n\n")


def test_replace_block_keeps_notes_around_the_markers() -> None:
    first = replace_block(DOC, HEADING, "figures 1")
    noted = first.replace(END, END + "\n\nHand-written notes.")
    again = replace_block(noted, HEADING, "figures 2\n")
    assert "figures 1" not in again
    assert f"{BEGIN}\nfigures 2\n{END}\n\nHand-written notes." in again
    assert again.count(BEGIN) == 1
    assert again.endswith("## Later\n\nmore\n")


def test_replace_block_of_the_last_section_and_of_a_missing_one() -> None:
    last = f"# B\n\n{HEADING}\n\nold\n"
    assert replace_block(last, HEADING, "new") == f"# B\n\n{HEADING}\n\n{BEGIN}\nnew\n{END}\n"
    assert replace_block("# B\n", HEADING, "new") == f"# B\n\n{HEADING}\n\n{BEGIN}\nnew\n{END}\n"


def test_render_names_targets_and_verdicts() -> None:
    results = Results(
        when=datetime(2026, 11, 22, 3, 0, tzinfo=UTC),
        cores=2,
        pods=["pod1", "pod2"],
        requests=500,
        servers=200,
        runs=20,
        overhead={CASCADE: Summary.of([0.012]), DIRECT: Summary.of([0.010])},
        fanout={
            CASCADE: Summary.of([0.30]),
            SDK: Summary.of([0.50]),
            TOGETHER: Summary.of([0.28]),
            "pod1 alone": Summary.of([0.20]),
            "pod2 alone": Summary.of([0.26]),
        },
        listed={CASCADE: 200, SDK: 200, TOGETHER: 200, "pod1 alone": 100, "pod2 alone": 100},
        rss_before_kib=80 * 1024,
        rss_after_kib=90 * 1024,
        processes=1,
        statements={"GET `/servers/{id}`": {"SELECT": 4.0}},
        memory_gib=23.5,
    )
    assert results.slower_pod == "pod2 alone"
    text = render(results)
    assert "12.0 ms / 10.0 ms = **1.20 x** (+2.0 ms) | fail |" in text
    assert "300.0 ms / 260.0 ms = **1.15 x** | pass |" in text
    assert "the slower pod alone (pod2, 100 servers)" in text
    assert "300.0 ms / 280.0 ms = **1.07 x** | pass |" in text  # every pod at once
    assert "80.0 MiB / 90.0 MiB" in text
    assert "2026-11-22 03:00 UTC on 2 cores (24 GiB)" in text
    assert "| GET `/servers/{id}` | 4.0 | 0.0 |" in text
