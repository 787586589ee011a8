"""The generated block of a section of a Markdown document (docs/benchmarks.md)."""

from __future__ import annotations


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
