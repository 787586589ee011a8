"""`devcloud up` refuses bad situations before it starts anything."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devcloud import state
from devcloud.cloud import resolve_independent, resolve_pods
from devcloud.errors import DevcloudError
from devcloud.layout import SHARED_PORTS, Layout

CHECKOUT = Path(__file__).resolve().parents[2]
# Far from the default 20000 (a running devcloud is not disturbed) and below Linux's
# ephemeral port range (32768+), where an outgoing connection may hold any port.
BASE = 10000


@pytest.fixture
def keystone_port_taken() -> Iterator[int]:
    port = BASE + SHARED_PORTS["keystone"]
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
        yield port


def devcloud(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devcloud", "--dir", str(root), "--port-base", str(BASE), *args],
        cwd=CHECKOUT,
        text=True,
        capture_output=True,
        timeout=120,
        check=False,
    )


def test_port_in_use_names_the_service_and_starts_nothing(
    tmp_path: Path, keystone_port_taken: int
) -> None:
    result = devcloud(tmp_path, "up")
    assert result.returncode == 1
    assert f"keystone: port 127.0.0.1:{keystone_port_taken} is already in use" in result.stderr
    assert "Nothing was started" in result.stderr
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


def test_status_of_an_empty_devcloud(tmp_path: Path) -> None:
    result = devcloud(tmp_path, "status")
    assert result.returncode == 3
    assert "nothing at" in result.stdout


def test_down_of_an_empty_devcloud_is_fine(tmp_path: Path) -> None:
    result = devcloud(tmp_path, "down")
    assert result.returncode == 0
    assert "stopped 0 processes" in result.stdout


def test_pod_count_follows_the_devcloud_unless_asked(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    state.save(layout.state_file, state.State(pods=3, port_base=20000, az_format="az{n}"))
    assert resolve_pods(layout, None) == 3  # default: keep the shape
    assert resolve_pods(layout, 4) == 4  # more pods: added
    assert resolve_pods(layout, 1) == 1  # fewer: pod2 and pod3 are removed by `up`


def test_port_base_change_of_a_running_devcloud_is_refused(tmp_path: Path) -> None:
    layout = Layout(tmp_path, port_base=30000)
    state.save(layout.state_file, state.State(pods=2, port_base=20000, az_format="az{n}"))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "mariadb.json").write_text(
        '{"name": "mariadb", "pid": 1, "start_ticks": 0, "tier": "infra", "port": 1, '
        '"url": null, "log": ""}'
    )
    with pytest.raises(DevcloudError) as caught:
        resolve_pods(layout, None)
    assert "runs with --port-base 20000" in caught.value.message


def test_pod_count_bounds(tmp_path: Path) -> None:
    with pytest.raises(DevcloudError):
        resolve_pods(Layout(tmp_path), 10)
    assert resolve_pods(Layout(tmp_path), None) == 2


def test_independent_pods_follow_the_devcloud_unless_asked(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    assert resolve_independent(layout, 2, None) == frozenset()  # a new devcloud: all shared
    assert resolve_independent(layout, 3, 1) == {3}  # the last K
    state.save(
        layout.state_file,
        state.State(pods=3, port_base=20000, az_format="az{n}", independent=[3]),
    )
    assert resolve_independent(layout, 3, None) == {3}  # default: keep the shape
    assert resolve_independent(layout, 4, None) == {3}  # a new pod is shared
    assert resolve_independent(layout, 4, 2) == {3, 4}
    assert resolve_independent(layout, 2, None) == frozenset()  # pod3 removed


def test_a_pod_keeps_its_kind(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    state.save(layout.state_file, state.State(pods=3, port_base=20000, az_format="az{n}"))
    with pytest.raises(DevcloudError) as caught:
        resolve_independent(layout, 3, 1)
    assert f"pod3 of the devcloud in {tmp_path} is shared" in caught.value.message
    assert "devcloud up --pods 2" in caught.value.message
    with pytest.raises(DevcloudError):
        resolve_independent(layout, 3, 4)  # more than the pods


def test_a_state_file_without_independent_pods_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "devcloud.json"
    path.write_text('{"pods": 2, "port_base": 20000, "az_format": "az{n}"}')
    loaded = state.load(path)
    assert loaded is not None and loaded.independent == []
