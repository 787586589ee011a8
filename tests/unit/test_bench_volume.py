"""The pure parts of `devcloud bench --volume`: statistics, the client-side merge, the
volumes' spread, the report and its block in docs/benchmarks.md."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devcloud.bench_volume import (
    BEGIN,
    CASCADE,
    DIRECT,
    END,
    HEADING,
    METHOD,
    PREFIX,
    SDK,
    Create,
    Results,
    Stats,
    alone,
    batches,
    command,
    is_bench,
    larger_half,
    merge,
    next_link,
    ratio,
    render,
    replace_block,
    spread,
)


def results(**changes: object) -> Results:
    base: dict[str, object] = {
        "when": datetime(2026, 11, 22, 9, 30, tzinfo=UTC),
        "cores": 2,
        "memory_gib": 24.0,
        "pods": ["pod1", "pod2"],
        "runs": 3,
        "count": 10,
        "creates": {
            CASCADE: [Create(0.060, 0.62), Create(0.050, 0.55), Create(0.070, 0.71)],
            DIRECT: [Create(0.040, 0.50), Create(0.030, 0.45), Create(0.045, 0.48)],
        },
        "per_pod": {"pod1": 5, "pod2": 5},
        "lists": {
            CASCADE: [0.030, 0.034, 0.032],
            alone("pod1"): [0.020, 0.024, 0.022],
            SDK: [0.045, 0.050, 0.047],
        },
        "listed": {CASCADE: 10, alone("pod1"): 5, SDK: 10},
    }
    base.update(changes)
    return Results(**base)  # type: ignore[arg-type]


def test_stats_p50_p90_and_max() -> None:
    s = Stats.of([float(v) for v in range(1, 11)])  # 1..10
    assert (s.n, s.p50, s.high) == (10, 5.5, 10.0)
    assert s.p90 == pytest.approx(9.1)
    one = Stats.of([0.4])
    assert (one.n, one.p50, one.p90, one.high) == (1, 0.4, 0.4, 0.4)
    with pytest.raises(ValueError):
        Stats.of([])


def test_ratio() -> None:
    assert ratio(0.6, 0.5) == pytest.approx(1.2)
    with pytest.raises(ValueError):
        ratio(1.0, 0.0)


def test_merge_sorts_newest_first_then_by_id_descending() -> None:
    pod1 = [
        {"id": "b", "created_at": "2026-11-22T09:00:02.000000"},
        {"id": "a", "created_at": "2026-11-22T09:00:00.000000"},
    ]
    pod2 = [
        {"id": "d", "created_at": "2026-11-22T09:00:02.000000"},
        {"id": "c", "created_at": "2026-11-22T09:00:01.000000"},
    ]
    assert [v["id"] for v in merge(pod1, pod2)] == ["d", "b", "c", "a"]
    assert [v["id"] for v in merge(pod2, pod1)] == ["d", "b", "c", "a"]  # pods' order: none


def test_merge_concatenates_everything_and_takes_no_or_empty_lists() -> None:
    assert merge() == []
    assert merge([], []) == []
    one = [{"id": "x", "created_at": "2026-11-22T09:00:00"}]
    assert merge(one, []) == one
    many = [{"id": f"{n:02d}", "created_at": "2026-11-22T09:00:00"} for n in range(12)]
    assert len(merge(many[:7], many[7:])) == 12


def test_spread_is_even_in_turn_and_named_with_the_prefix() -> None:
    volumes = spread(5, ["az1", "az2"])
    assert volumes == [
        (f"{PREFIX}list-az1-0000", "az1"),
        (f"{PREFIX}list-az2-0000", "az2"),
        (f"{PREFIX}list-az1-0001", "az1"),
        (f"{PREFIX}list-az2-0001", "az2"),
        (f"{PREFIX}list-az1-0002", "az1"),
    ]
    assert len(spread(300, ["az1", "az2"])) == 300
    assert sum(1 for _, az in spread(300, ["az1", "az2"]) if az == "az2") == 150
    assert len({name for name, _ in spread(300, ["az1", "az2"])}) == 300


def test_larger_half_is_the_pod_with_most_volumes_the_first_of_equals() -> None:
    assert larger_half({"pod1": 150, "pod2": 150}) == "pod1"
    assert larger_half({"pod1": 4, "pod2": 5}) == "pod2"
    with pytest.raises(ValueError):
        larger_half({})


def test_batches() -> None:
    assert batches([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    assert batches([], 10) == []
    with pytest.raises(ValueError):
        batches([1], 0)


def test_next_link_and_is_bench() -> None:
    page = {"volumes_links": [{"rel": "next", "href": "http://x/volumes/detail?marker=m"}]}
    assert next_link(page) == "http://x/volumes/detail?marker=m"
    assert next_link({"volumes": []}) is None
    assert is_bench({"name": f"{PREFIX}list-az1-0003"})
    assert not is_bench({"name": "mine"})
    assert not is_bench({"name": None})


def test_render_creates_with_p50_p90_max_and_post() -> None:
    text = render(results())
    assert text.startswith(f"Command: `{command(3, 10)}` (`devcloud/bench_volume.py`).")
    assert "Run of 2026-11-22 09:30 UTC on 2 cores (24 GiB), 2 pods" in text
    assert "microversion 3.60" in text
    row = next(line for line in text.splitlines() if line.startswith(f"| {CASCADE} |"))
    assert row == f"| {CASCADE} | 3 | **0.62 s** | 0.69 s | 0.71 s | 60.0 ms |"
    assert "| straight to pod1's Cinder | 3 | **0.48 s** | 0.50 s | 0.50 s | 40.0 ms |" in text
    assert "Cascade / straight: **1.29 x** (+140.0 ms)." in text


def test_render_lists_with_counts_and_ratios() -> None:
    text = render(results())
    assert "over 10 volumes (5 in pod1, 5 in pod2)" in text
    assert f"| {CASCADE} | 10 | 3 | **32.0 ms** | 33.6 ms |" in text
    assert f"| {alone('pod1')} | 5 | 3 | **22.0 ms** | 23.6 ms |" in text
    assert f"| {SDK} | 10 | 3 | **47.0 ms** | 49.4 ms |" in text
    assert "List p50, Cascade / pod1 alone: **1.45 x**; Cascade / the client loop: **0.68 x**." in (
        text
    )


def test_render_says_idle_test_processes_and_measuring_again() -> None:
    assert "no tempest or pytest run going on" in render(results())
    text = render(results(idle_tests=["4142"], attempts={"volume creates": 2}))
    assert "no tempest or pytest run active (1 test process(es) there but idle" in text
    assert "(measured again after a disturbance: volume creates 2 times)" in text


def test_render_leaves_out_parts_not_measured_and_lists_notes() -> None:
    text = render(results(creates={}, lists={}, notes=["a note"]))
    assert "Volume create" not in text
    assert "/volumes/detail" not in text
    assert text.endswith("\n\n- a note")


def test_replace_block_appends_the_section_with_its_method() -> None:
    out = replace_block("# Benchmarks\n\n## Networking\n\nx\n", "figures")
    assert out == (
        f"# Benchmarks\n\n## Networking\n\nx\n\n{HEADING}\n\n{METHOD}\n\n{BEGIN}\nfigures\n{END}\n"
    )


def test_replace_block_keeps_the_hand_written_text() -> None:
    doc = (
        f"# Benchmarks\n\n{HEADING}\n\nWhat is measured.\n\n{BEGIN}\nold\n{END}\n\n"
        "After.\n\n## Later\n\nx\n"
    )
    out = replace_block(doc, "new figures")
    assert f"{HEADING}\n\nWhat is measured.\n\n{BEGIN}\nnew figures\n{END}\n\nAfter.\n" in out
    assert "old" not in out
    assert out.endswith("## Later\n\nx\n")
    assert replace_block(out, "new figures") == out  # a second run changes nothing else


def test_replace_block_adds_the_markers_to_a_section_without_them() -> None:
    out = replace_block(f"# B\n\n{HEADING}\n\nNotes.\n\n## Next\n", "figures")
    assert out == f"# B\n\n{HEADING}\n\nNotes.\n\n{BEGIN}\nfigures\n{END}\n\n## Next\n"


def test_replace_block_leaves_the_other_blocks_alone() -> None:
    network = (
        "## Networking (issue: Neutron at the top)\n\n"
        "<!-- devcloud bench --network: generated block, replaced by every run -->\nkeep\n"
        "<!-- devcloud bench --network: end of generated block -->\n"
    )
    out = replace_block(f"# B\n\n{network}", "figures")
    assert out.startswith(f"# B\n\n{network}")
    assert out.endswith(f"{BEGIN}\nfigures\n{END}\n")
