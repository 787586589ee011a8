"""Build etc/container/Containerfile's image as a root filesystem, without a container
engine: for machines (such as the devcloud's) where `podman build` cannot run.

    .venv/bin/python devcloud/scripts/container_rootfs.py /tmp/cascade-rootfs

`FROM debian:12-slim` becomes `debootstrap --variant=minbase bookworm` from Debian's
mirror; every other instruction of the file is then carried out in that tree as an
image build would: `RUN` in a chroot with the `ENV` so far and no other environment,
`COPY . <dir>` the repository's committed files (`git archive HEAD`, what
.dockerignore leaves in a build context), `USER` the user the last command and the
`CMD` run as. The image's `CMD` is checked with `--help` (its entry point is
installed and starts). Run as root. Where the machine's egress re-signs TLS with a CA
of its own (in /usr/local/share/ca-certificates), that CA is trusted in the tree too,
as an image build there would need (a build secret); nothing else comes from the host.

Start the image's service against a configuration afterwards with, for instance:

    chroot --userspec=cascade:cascade /tmp/cascade-rootfs /usr/bin/env -i \\
        PATH=/opt/cascade/bin:/usr/bin:/bin cascade-api --config-file /etc/cascade/cascade.conf
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]
CONTAINERFILE = CHECKOUT / "etc" / "container" / "Containerfile"
BASES = {"debian:12-slim": "bookworm"}
MIRROR = "http://deb.debian.org/debian"
HOST_CAS = Path("/usr/local/share/ca-certificates")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def instructions(text: str) -> list[tuple[str, str]]:
    """The file's instructions, continuation lines joined, comments left out."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        word, _, rest = pending.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        pending = ""
    return out


def run(cmd: list[str]) -> None:
    print("+", shlex.join(cmd), flush=True)
    subprocess.run(cmd, check=True)


@dataclass
class Image:
    """What the build leaves besides the tree: the environment, user and command the
    image's container would start with."""

    env: dict[str, str] = field(default_factory=lambda: {"PATH": DEFAULT_PATH})
    user: str = "root"
    cmd: list[str] = field(default_factory=list)

    def chrooted(self, root: Path, *command: str) -> list[str]:
        pairs = [f"{k}={v}" for k, v in self.env.items()]
        return [
            "chroot",
            f"--userspec={self.user}",
            str(root),
            "/usr/bin/env",
            "-i",
            *pairs,
            *command,
        ]


def _base(root: Path, image: str, made: Image) -> None:
    if image not in BASES:
        raise SystemExit(f"no debootstrap suite known for the base image {image}")
    if root.exists():
        shutil.rmtree(root)
    run(["debootstrap", "--variant=minbase", BASES[image], str(root), MIRROR])
    shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
    cas = sorted(HOST_CAS.glob("*.crt")) if HOST_CAS.is_dir() else []
    trusted = root / "usr/local/share/ca-certificates"
    trusted.mkdir(parents=True, exist_ok=True)
    for ca in cas:
        shutil.copy(ca, trusted / ca.name)
    if cas:  # pip in the tree trusts the system's bundle, the egress CA added to it
        made.env["PIP_CERT"] = "/etc/ssl/certs/ca-certificates.crt"


def _copy(root: Path, rest: str) -> None:
    source, target = rest.split()
    if source != ".":
        raise SystemExit(f"COPY {source}: only the build context (.) is copied here")
    dest = root / target.lstrip("/")
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "archive", "HEAD"], cwd=CHECKOUT, capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)


def build(root: Path) -> Image:
    """The tree at `root` built from the Containerfile."""
    made = Image()
    proc = root / "proc"
    for word, rest in instructions(CONTAINERFILE.read_text()):
        if word == "FROM":
            _base(root, rest, made)
        elif word == "RUN":
            # the egress CA (if any) joins the bundle once ca-certificates is installed
            trust = (
                "; if command -v update-ca-certificates >/dev/null;"
                " then update-ca-certificates >/dev/null || true; fi"
            )
            run(["mount", "-t", "proc", "proc", str(proc)])
            try:
                run(made.chrooted(root, "/bin/sh", "-c", f"set -e; {rest}{trust}"))
            finally:
                run(["umount", str(proc)])
        elif word == "COPY":
            _copy(root, rest)
        elif word == "ENV":
            key, _, value = rest.partition("=")
            made.env[key] = value.replace("$PATH", made.env.get("PATH", ""))
        elif word == "USER":
            made.user = rest
        elif word == "CMD":
            made.cmd = list(json.loads(rest))
        # EXPOSE and HEALTHCHECK describe the container: nothing to build
    return made


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(argv[0]).resolve()
    image = build(root)
    if not image.cmd:
        raise SystemExit("the Containerfile has no CMD")
    run(image.chrooted(root, image.cmd[0], "--help"))
    print(f"built {root}: the image's {image.cmd[0]} starts as {image.user}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
