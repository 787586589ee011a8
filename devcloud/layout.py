"""Where everything of one devcloud lives: folders, ports, names, credentials.

One `Layout` describes a whole devcloud. Every path is under `root`, every
port is derived from `port_base`, so two devclouds with different roots and
bases never touch each other, and nothing is written to system-wide places.

Port plan (base 20000 by default):

    shared   mariadb 23306, epmd 24369, keystone 25000, rabbitmq 25672,
             rabbitmq-dist 25673, glance 29292, cascade (top) 20080
    pod N    2N696 neutron, 2N774 nova, 2N776 cinder, 2N778 placement
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MAX_PODS = 9
TOP_REGION = "cascade"
PASSWORD = "secret"  # every devcloud account and database user; loopback-only dev tool
DB_USER = "devcloud"

SHARED_PORTS = {
    "cascade": 80,
    "mariadb": 3306,
    "epmd": 4369,
    "keystone": 5000,
    "rabbitmq": 5672,
    "rabbitmq-dist": 5673,
    "glance": 9292,
}
POD_PORTS = {"neutron": 696, "nova": 774, "cinder": 776, "placement": 778}


@dataclass(frozen=True)
class Pod:
    """One bottom cloud: a Keystone region with its own Nova, Neutron, Cinder, Placement."""

    number: int
    az: str

    @property
    def name(self) -> str:
        return f"pod{self.number}"

    @property
    def region(self) -> str:
        return self.name


@dataclass(frozen=True)
class Layout:
    root: Path
    port_base: int = 20000
    az_format: str = "az{n}"

    # -- folders -------------------------------------------------------------
    @property
    def venv(self) -> Path:
        """The OpenStack services' own virtualenv (separate from Cascade's)."""
        return self.root / "venv"

    @property
    def bin(self) -> Path:
        """Folder put on PATH by `devcloud env` (holds the `openstack` CLI)."""
        return self.root / "bin"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def log(self) -> Path:
        return self.root / "log"

    @property
    def state_file(self) -> Path:
        return self.root / "devcloud.json"

    @property
    def clouds_yaml(self) -> Path:
        return self.root / "clouds.yaml"

    def home(self, service: str) -> Path:
        """Config and data folder of a shared service (`keystone`, `mariadb`, ...)."""
        return self.root / service

    def pod_home(self, pod: Pod, service: str) -> Path:
        return self.root / pod.name / service

    def vbin(self, command: str) -> str:
        return str(self.venv / "bin" / command)

    # -- ports and URLs ---------------------------------------------------------
    def port(self, service: str) -> int:
        return self.port_base + SHARED_PORTS[service]

    def pod_port(self, pod: Pod, service: str) -> int:
        return self.port_base + 1000 * pod.number + POD_PORTS[service]

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.port(service)}"

    def pod_url(self, pod: Pod, service: str) -> str:
        return f"http://127.0.0.1:{self.pod_port(pod, service)}"

    @property
    def auth_url(self) -> str:
        return self.url("keystone") + "/v3"

    def db_url(self, database: str) -> str:
        return (
            f"mysql+pymysql://{DB_USER}:{PASSWORD}@127.0.0.1:{self.port('mariadb')}"
            f"/{database}?charset=utf8mb4"
        )

    def transport_url(self, pod: Pod) -> str:
        return f"rabbit://guest:guest@127.0.0.1:{self.port('rabbitmq')}/{pod.name}"

    # -- pods ------------------------------------------------------------------
    def pod(self, number: int) -> Pod:
        return Pod(number=number, az=self.az_format.format(n=number))

    def pods(self, count: int) -> list[Pod]:
        return [self.pod(n) for n in range(1, count + 1)]
