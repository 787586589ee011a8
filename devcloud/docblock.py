"""The generated block of a section of a Markdown document (docs/benchmarks.md), and the
lines every benchmark's block starts with."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

IDLE_SHARE = 0.05  # test processes using less of a core than this do not disturb


def preamble(
    command: str,
    script: str,
    when: datetime,
    cores: int,
    memory_gib: float,
    pods: int,
    idle_tests: Sequence[str],
    attempts: Mapping[str, int],
) -> list[str]:
    """`Command: ...` and the start of `Run of ...` (the caller ends the sentence): when,
    on what, whether tests were running, which parts were measured again."""
    disturbed = {k: v for k, v in attempts.items() if v > 1}
    return [
        f"Command: `{command}` (`{script}`).",
        f"Run of {when:%Y-%m-%d %H:%M} UTC on {cores} cores ({memory_gib:.0f} GiB), "
        f"{pods} pods, no tempest or pytest run "
        + (
            f"active ({len(idle_tests)} test process(es) there but idle: under "
            f"{IDLE_SHARE:.0%} of a core)"
            if idle_tests
            else "going on"
        )
        + (
            " (measured again after a disturbance: "
            + ", ".join(f"{k} {v} times" for k, v in disturbed.items())
            + ")"
            if disturbed
            else ""
        ),
    ]


def replace_block(doc: str, heading: str, block: str, begin: str, end: str, keep_text: bool) -> str:
    """`doc` with the generated block (between `begin` and `end`) of the section under
    `heading` set to `block`.

    Text of the section outside the markers (hand-written notes) stays. A section
    without markers gets the block at its end (`keep_text`) or has its text replaced by
    it; a missing section is appended at the end.
    """
    marked = f"{begin}\n{block.strip()}\n{end}"
    lines = doc.splitlines(keepends=True)
    start = next((n for n, line in enumerate(lines) if line.rstrip() == heading), None)
    if start is None:
        return doc.rstrip() + f"\n\n{heading}\n\n{marked}\n"
    stop = next((n for n in range(start + 1, len(lines)) if lines[n].startswith("## ")), len(lines))
    section = "".join(lines[start + 1 : stop])
    tail = "\n" if stop < len(lines) else ""
    if begin in section and end in section:
        before, rest = section.split(begin, 1)
        after = rest.split(end, 1)[1]
        section = before + marked + after
    elif keep_text:
        section = section.rstrip() + f"\n\n{marked}\n" + tail
    else:
        section = f"\n{marked}\n" + tail
    return "".join(lines[: start + 1]) + section + "".join(lines[stop:])
