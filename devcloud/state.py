"""The devcloud's own record of its shape (pods, ports), kept in `devcloud.json`."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class State:
    pods: int
    port_base: int
    az_format: str
    # numbers of the independent pods (own Keystone and Glance); a state file written
    # before they existed has none
    independent: list[int] = field(default_factory=list)
    # the top AZ cascade-api places creates that name none in (`up --default-az`): "" is
    # Cascade's own choice
    default_az: str = ""


def load(path: Path) -> State | None:
    try:
        return State(**json.loads(path.read_text()))
    except FileNotFoundError:
        return None


def save(path: Path, state: State) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(state), indent=2) + "\n")
