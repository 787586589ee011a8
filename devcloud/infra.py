"""Shared infrastructure: one MariaDB and one RabbitMQ (with its own epmd) for all pods.

Both come from Debian's packages but run as the devcloud's own instances:
data, sockets and logs under the devcloud root, listening on 127.0.0.1 at
the layout's ports, never as the system services.
"""

from __future__ import annotations

from devcloud.commands import run
from devcloud.ini import write_if_changed
from devcloud.layout import DB_USER, PASSWORD, Layout, Pod
from devcloud.proc import Proc

RABBIT_BIN = "/usr/lib/rabbitmq/bin"


# -- MariaDB --------------------------------------------------------------------------
def mariadb_conf(layout: Layout) -> str:
    home = layout.home("mariadb")
    return f"""[mysqld]
datadir = {home / "data"}
socket = {home / "mysqld.sock"}
pid-file = {home / "mysqld.pid"}
bind-address = 127.0.0.1
port = {layout.port("mariadb")}
user = root
skip-log-bin
performance_schema = OFF
innodb_buffer_pool_size = 128M
innodb_log_file_size = 48M
# a devcloud trades durability for speed: nothing here must survive a power cut
innodb_flush_log_at_trx_commit = 0
innodb_doublewrite = 0
max_connections = 1000
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci

[client]
socket = {home / "mysqld.sock"}
"""


def mariadb_proc(layout: Layout) -> Proc:
    conf = layout.home("mariadb") / "my.cnf"
    return Proc(
        name="mariadb",
        argv=("/usr/sbin/mariadbd", f"--defaults-file={conf}"),
        tier="infra",
        port=layout.port("mariadb"),
        start_timeout=60,
    )


async def prepare_mariadb(layout: Layout) -> None:
    """Write my.cnf and create the data folder on first use."""
    home = layout.home("mariadb")
    conf = home / "my.cnf"
    write_if_changed(conf, mariadb_conf(layout))
    if not (home / "data" / "mysql").exists():
        await run(
            [
                "mariadb-install-db",
                f"--defaults-file={conf}",
                "--auth-root-authentication-method=socket",
            ],
            service="mariadb",
            log=layout.log / "mariadb-setup.log",
            heavy=False,
        )


async def sql(layout: Layout, statements: str, timeout: float = 600.0) -> str:
    """Run SQL as MariaDB's root over the devcloud's socket."""
    conf = layout.home("mariadb") / "my.cnf"
    return await run(
        ["mariadb", f"--defaults-file={conf}", "-N", "-B"],
        service="mariadb",
        log=layout.log / "mariadb-setup.log",
        stdin=statements.encode(),
        heavy=False,
        timeout=timeout,
    )


async def ensure_db_user(layout: Layout) -> None:
    await sql(
        layout,
        f"CREATE USER IF NOT EXISTS '{DB_USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}';\n"
        f"GRANT ALL PRIVILEGES ON *.* TO '{DB_USER}'@'127.0.0.1';\n",
    )


async def recreate_databases(layout: Layout, names: list[str]) -> None:
    """Drop (if there) and create empty databases."""
    await sql(
        layout,
        "".join(
            f"DROP DATABASE IF EXISTS `{n}`;\nCREATE DATABASE `{n}` CHARACTER SET utf8mb4;\n"
            for n in names
        ),
    )


async def drop_databases(layout: Layout, prefix: str) -> list[str]:
    """Drop every database whose name starts with `prefix`; returns their names."""
    like = prefix.replace("_", "\\_") + "%"
    found = (await sql(layout, f"SHOW DATABASES LIKE '{like}';")).split()
    if found:
        await sql(layout, "".join(f"DROP DATABASE `{n}`;\n" for n in found))
    return found


# -- epmd + RabbitMQ ---------------------------------------------------------------
def epmd_proc(layout: Layout) -> Proc:
    # Our own epmd on our own port: the system's (if any) is neither used nor disturbed.
    return Proc(
        name="epmd",
        argv=("/usr/bin/epmd", "-address", "127.0.0.1", "-port", str(layout.port("epmd"))),
        tier="infra",
        port=layout.port("epmd"),
        start_timeout=20,
    )


def rabbit_env(layout: Layout) -> dict[str, str]:
    home = layout.home("rabbitmq")
    return {
        "HOME": str(home),  # the Erlang cookie lives here
        "RABBITMQ_NODENAME": "devcloud@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(layout.port("rabbitmq")),
        "RABBITMQ_DIST_PORT": str(layout.port("rabbitmq-dist")),
        "RABBITMQ_MNESIA_BASE": str(home / "mnesia"),
        "RABBITMQ_LOG_BASE": str(home / "log"),
        "RABBITMQ_LOGS": "-",
        "RABBITMQ_CONFIG_FILE": str(home / "rabbitmq.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "enabled_plugins"),
        "RABBITMQ_PID_FILE": str(home / "rabbitmq.pid"),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "ERL_EPMD_PORT": str(layout.port("epmd")),
        # -start_epmd false: Erlang would otherwise start a daemonised epmd of its own
        # whenever ours is not running, one that no pid file knows and `down` cannot stop.
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": (
            "-kernel inet_dist_use_interface {127,0,0,1} -start_epmd false"
        ),
        "RABBITMQ_CTL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1} -start_epmd false",
    }


def prepare_rabbit(layout: Layout) -> None:
    home = layout.home("rabbitmq")
    for sub in ("mnesia", "log"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    write_if_changed(
        home / "rabbitmq.conf",
        f"listeners.tcp.default = 127.0.0.1:{layout.port('rabbitmq')}\nloopback_users = none\n",
    )
    write_if_changed(home / "enabled_plugins", "[].\n")


def rabbit_proc(layout: Layout) -> Proc:
    return Proc(
        name="rabbitmq",
        argv=(f"{RABBIT_BIN}/rabbitmq-server",),
        tier="infra",
        env=rabbit_env(layout),
        port=layout.port("rabbitmq"),
        start_timeout=120,
    )


async def rabbitmqctl(layout: Layout, *args: str) -> str:
    return await run(
        [f"{RABBIT_BIN}/rabbitmqctl", *args],
        service="rabbitmq",
        log=layout.log / "rabbitmq-setup.log",
        env=rabbit_env(layout),
        heavy=False,
    )


async def _vhosts(layout: Layout) -> set[str]:
    return set((await rabbitmqctl(layout, "list_vhosts", "--quiet", "--no-table-headers")).split())


async def ensure_vhosts(layout: Layout, pods: list[Pod]) -> None:
    """One vhost per pod isolates the pods' RPC (queue names are the same in every Nova)."""
    have = await _vhosts(layout)
    for pod in pods:
        if pod.name not in have:
            await rabbitmqctl(layout, "add_vhost", pod.name)
            await rabbitmqctl(layout, "set_permissions", "-p", pod.name, "guest", ".*", ".*", ".*")


async def delete_vhost(layout: Layout, pod: Pod) -> None:
    if pod.name in await _vhosts(layout):
        await rabbitmqctl(layout, "delete_vhost", pod.name)


async def consumed_queues(layout: Layout, pod: Pod) -> set[str]:
    """Names of the queues in the pod's vhost that have at least one consumer."""
    out = await rabbitmqctl(
        layout,
        "list_queues",
        "-p",
        pod.name,
        "name",
        "consumers",
        "--quiet",
        "--no-table-headers",
    )
    rows = (line.split() for line in out.splitlines())
    return {row[0] for row in rows if len(row) == 2 and row[1].isdigit() and int(row[1]) > 0}
