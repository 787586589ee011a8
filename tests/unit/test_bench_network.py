"""The pure parts of `devcloud bench --network`: percentiles, rule matching, the report."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devcloud.bench_cascade import percentile  # the one bench_network uses
from devcloud.bench_network import (
    BEGIN,
    DIRECT,
    END,
    HEADING,
    NEW,
    RULE_PREFIX,
    WARM,
    Boot,
    Drain,
    Results,
    command,
    cpu_share,
    each,
    jobs_per_second,
    render,
    replace_block,
    rule_matches,
)


def results(**changes: object) -> Results:
    base: dict[str, object] = {
        "when": datetime(2026, 11, 22, 5, 0, tzinfo=UTC),
        "cores": 2,
        "memory_gib": 24.0,
        "pods": ["pod1", "pod2"],
        "runs": 3,
        "boots": {
            NEW: [Boot(1.9, 3.7), Boot(1.5, 3.1), Boot(1.7, 3.4)],
            WARM: [Boot(0.9, 2.4), Boot(0.8, 2.2), Boot(1.0, 2.6)],
            DIRECT: [Boot(0.6, 2.7), Boot(0.7, 2.5), Boot(0.6, 2.6)],
        },
        "network_create": [0.04, 0.03, 0.05],
        "rules": [1.37, 0.74, 1.42],
        "rule_posts": [0.022, 0.041, 0.026],
        "rule_by_pod": {"pod1": [1.12, 0.54, 1.30], "pod2": [1.37, 0.74, 1.42]},
        "drains": [Drain(1, 2000, 14.0), Drain(1, 2000, 12.5, True), Drain(2, 2000, 10.0, True)],
    }
    base.update(changes)
    return Results(**base)  # type: ignore[arg-type]


def test_percentile_is_the_median_at_50_and_interpolates_at_99() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([float(v) for v in range(1, 51)], 99) == pytest.approx(49.51)


def test_jobs_per_second() -> None:
    assert jobs_per_second(2000, 8.0) == 250.0
    assert Drain(2, 2000, 10.0).rate == 200.0
    with pytest.raises(ValueError):
        jobs_per_second(10, 0.0)


def test_rule_matches_only_the_benchmark_rule_of_its_port() -> None:
    rule = {
        "direction": "ingress",
        "protocol": "tcp",
        "port_range_min": 40001,
        "port_range_max": 40001,
        "remote_ip_prefix": RULE_PREFIX,
    }
    assert rule_matches(rule, 40001)
    assert not rule_matches(rule, 40002)
    assert not rule_matches({**rule, "direction": "egress"}, 40001)
    assert not rule_matches({**rule, "remote_ip_prefix": "0.0.0.0/0"}, 40001)
    assert not rule_matches({**rule, "port_range_max": 40010}, 40001)
    assert not rule_matches({**rule, "protocol": "udp"}, 40001)


def test_each_lists_values_in_the_order_measured() -> None:
    assert each([3.7, 3.14159, 10.0]) == "3.70, 3.14, 10.00"


def test_render_has_every_variant_with_p50_and_each_value() -> None:
    text = render(results())
    assert text.startswith(f"Command: `{command(3)}`")
    assert "Run of 2026-11-22 05:00 UTC on 2 cores (24 GiB), 2 pods" in text
    new = next(line for line in text.splitlines() if line.startswith(f"| {NEW} |"))
    assert new == f"| {NEW} | 3 | **3.40 s** | 3.70, 3.10, 3.40 | 1.70 s | 1.90, 1.50, 1.70 |"
    assert f"| {WARM} | 3 | **2.40 s** |" in text
    assert f"| {DIRECT} | 3 | **2.60 s** |" in text
    assert "p50 40 ms" in text  # the network + subnet creates


def test_render_rules_and_jobs() -> None:
    text = render(results())
    rows = [line for line in text.splitlines() if line.startswith("| in ")]
    assert rows[0] == "| in every pod | 3 | **1370 ms** | 1419 ms | 1177 ms | 740 ms | 1420 ms |"
    assert [r.split(" | ")[0] for r in rows] == ["| in every pod", "| in pod1", "| in pod2"]
    assert "| the POST alone | 3 | **26 ms** |" in text
    assert "| 1 in the benchmark's process | 2000 | 14.00 s | **143** |" in text
    assert "| 1 process, one worker each | 2000 | 12.50 s | **160** |" in text
    assert "| 2 processes, one worker each | 2000 | 10.00 s | **200** |" in text


def test_render_says_idle_test_processes_were_there() -> None:
    assert "no tempest or pytest run going on" in render(results())
    text = render(results(idle_tests=["4142", "4146"]))
    assert "no tempest or pytest run active (2 test process(es) there but idle" in text


def test_cpu_share_counts_new_processes_from_zero() -> None:
    before = {1: 100, 2: 50}
    after = {1: 110, 3: 40}  # 2 ended, 3 started meanwhile
    assert cpu_share(before, after, 5.0, 100) == pytest.approx(0.1)
    assert cpu_share({}, {}, 1.0, 100) == 0.0
    with pytest.raises(ValueError):
        cpu_share({}, {}, 0.0, 100)


def test_render_says_when_a_part_was_measured_again() -> None:
    assert "measured again" not in render(results(attempts={"server creates": 1}))
    text = render(results(attempts={"server creates": 2, "security group rules": 1}))
    assert "(measured again after a disturbance: server creates 2 times)" in text


def test_render_leaves_out_parts_not_measured() -> None:
    text = render(results(rules=[], drains=[], network_create=[]))
    assert "security group rule" not in text
    assert "Job queue" not in text
    assert "network and its subnet" not in text


def test_replace_block_keeps_the_hand_written_paragraph() -> None:
    doc = (
        "# Benchmarks\n\n## Cascade\n\nother\n\n"
        f"{HEADING}\n\nWhat is measured.\n\n{BEGIN}\nold\n{END}\n\nAfter.\n\n## Later\n\nx\n"
    )
    out = replace_block(doc, HEADING, "new figures")
    assert f"{HEADING}\n\nWhat is measured.\n\n{BEGIN}\nnew figures\n{END}\n\nAfter.\n" in out
    assert "old" not in out
    assert out.startswith("# Benchmarks\n\n## Cascade\n\nother\n\n")
    assert out.endswith("## Later\n\nx\n")


def test_replace_block_appends_a_missing_section_or_block() -> None:
    out = replace_block("# Benchmarks\n", HEADING, "figures")
    assert out == f"# Benchmarks\n\n{HEADING}\n\n{BEGIN}\nfigures\n{END}\n"
    out = replace_block(f"# B\n\n{HEADING}\n\nNotes.\n\n## Next\n", HEADING, "figures")
    assert out == f"# B\n\n{HEADING}\n\nNotes.\n\n{BEGIN}\nfigures\n{END}\n\n## Next\n"


def test_replace_block_leaves_the_cascade_block_alone() -> None:
    cascade = (
        "## Cascade (issue: gateway core and Compute API)\n\n"
        "<!-- devcloud bench --cascade: generated block, replaced by every run -->\nkeep\n"
        "<!-- devcloud bench --cascade: end of generated block -->\n"
    )
    out = replace_block(f"# B\n\n{cascade}", HEADING, "figures")
    assert cascade in out and out.endswith(f"{END}\n")
