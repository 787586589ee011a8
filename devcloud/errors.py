"""The one exception the devcloud tool raises: it names the service and its log."""

from __future__ import annotations

from pathlib import Path


def tail(path: Path | None, lines: int = 25) -> str:
    """Last `lines` lines of a log file, or a note that there is none."""
    if path is None or not path.exists():
        return "(no log)"
    with path.open("rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 64 * 1024))
        text = fh.read().decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])


class DevcloudError(Exception):
    """A step of the devcloud failed.

    `service` is the name the user sees in `status`; `log` is where to look.
    The string form carries the tail of the log so that a failed `up` in CI
    shows the cause without another command.
    """

    def __init__(self, service: str, message: str, log: Path | None = None) -> None:
        super().__init__(f"{service}: {message}")
        self.service = service
        self.message = message
        self.log = log

    def report(self) -> str:
        out = [f"devcloud: {self.service}: {self.message}"]
        if self.log is not None:
            out.append(f"--- last lines of {self.log} ---")
            out.append(tail(self.log))
            out.append(f"--- full log: {self.log}")
        return "\n".join(out)
