"""Where everything of one devcloud lives: folders, ports, names, credentials.

One `Layout` describes a whole devcloud. Every path is under `root`, every
port is derived from `port_base`, so two devclouds with different roots and
bases never touch each other, and nothing is written to system-wide places.

Port plan (base 20000 by default):

    shared   mariadb 23306, epmd 24369, keystone 25000, rabbitmq 25672,
             rabbitmq-dist 25673, glance 29292, cascade (top) 20080
    pod N    2N696 neutron, 2N774 nova, 2N776 cinder, 2N778 placement,
             and for an independent pod also 2N500 keystone, 2N929 glance

A pod port is `port_base + 1000*N + offset`, so an offset must differ from
every shared port minus `1000*N` for N in 1..9: 0 (keystone), 292 (glance),
306 (mariadb), 369 (epmd), 672 and 673 (rabbitmq) are taken that way, besides
the pod offsets themselves (tests/unit/test_layout.py checks them all).

A pod is shared (the default: a region of the shared Keystone, served by the
shared Glance) or independent (`devcloud up --independent K`: a whole cloud of
its own, with its own Keystone and Glance, region `podN` there, and nothing of
it in the shared Keystone).
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
    "horizon": 8080,
}
POD_PORTS = {
    "neutron": 696,
    "nova": 774,
    "cinder": 776,
    "placement": 778,
    # only an independent pod runs these (its own Keystone and Glance)
    "keystone": 500,
    "glance": 929,
}


@dataclass(frozen=True)
class Pod:
    """One bottom cloud: a Keystone region with its own Nova, Neutron, Cinder, Placement.

    An `independent` pod also has its own Keystone and Glance (a whole cloud of its
    own); a shared one is a region of the shared Keystone and uses the shared Glance.
    """

    number: int
    az: str
    independent: bool = False

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
    # `[scheduling] default_az` of cascade-api (`up --default-az`), "" for none
    default_az: str = ""
    # numbers of the pods that are whole clouds of their own (`up --independent K`)
    independent: frozenset[int] = frozenset()

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

    def service_home(self, service: str, pod: Pod | None = None) -> Path:
        """Folder of the shared `service` (no pod) or of the pod's own one."""
        return self.home(service) if pod is None else self.pod_home(pod, service)

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

    def service_port(self, service: str, pod: Pod | None = None) -> int:
        """Port of the shared `service` (no pod) or of the pod's own one."""
        return self.port(service) if pod is None else self.pod_port(pod, service)

    def service_url(self, service: str, pod: Pod | None = None) -> str:
        """URL of the shared `service` (no pod) or of the pod's own one."""
        return f"http://127.0.0.1:{self.service_port(service, pod)}"

    @property
    def auth_url(self) -> str:
        """The shared Keystone's `/v3`: the top's, and every shared pod's."""
        return self.url("keystone") + "/v3"

    @staticmethod
    def own(pod: Pod) -> Pod | None:
        """The pod whose own Keystone and Glance serve `pod`: itself if it is
        independent, else None (the shared ones)."""
        return pod if pod.independent else None

    def identity_url(self, pod: Pod) -> str:
        """The Keystone that serves `pod`, without `/v3` (as `[keystone_authtoken]` wants)."""
        return self.service_url("keystone", self.own(pod))

    def pod_auth_url(self, pod: Pod) -> str:
        """The `/v3` of the Keystone that serves `pod` (its own if it is independent)."""
        return self.identity_url(pod) + "/v3"

    def image_url(self, pod: Pod) -> str:
        """The Glance that serves `pod` (its own if it is independent)."""
        return self.service_url("glance", self.own(pod))

    def db_url(self, database: str) -> str:
        return (
            f"mysql+pymysql://{DB_USER}:{PASSWORD}@127.0.0.1:{self.port('mariadb')}"
            f"/{database}?charset=utf8mb4"
        )

    def transport_url(self, pod: Pod) -> str:
        return f"rabbit://guest:guest@127.0.0.1:{self.port('rabbitmq')}/{pod.name}"

    # -- pods ------------------------------------------------------------------
    def pod(self, number: int) -> Pod:
        return Pod(
            number=number,
            az=self.az_format.format(n=number),
            independent=number in self.independent,
        )

    def pods(self, count: int) -> list[Pod]:
        return [self.pod(n) for n in range(1, count + 1)]
