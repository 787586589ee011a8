"""How Cascade signs in to a pod.

A `shared` pod is a region of the top's Keystone: a user's call is forwarded with the
user's own token, Cascade's own calls carry the top's service token. An `independent`
pod has a Keystone of its own (`Pod.auth_url`), which knows neither the top's users nor
its tokens: Cascade signs in there with the pod's `credentials` (a user with a role that
creates projects and grants roles) and acts in the project that stands for the top
project (`ProjectMap`), with the least role that works (`[keystone] project_role`).

The credentials are a secret: kept in the pod's row, never shown by the admin API
(`public`), never logged. A new secret (credential rotation) is used by the next call:
the sign-in is keyed by a fingerprint of the credentials.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Protocol

import httpx

from cascade.conf import KeystoneSection
from cascade.db.models import Pod
from cascade.identity import TokenValidator

SHARED = "shared"
INDEPENDENT = "independent"
IDENTITIES = (SHARED, INDEPENDENT)
SECRETS = frozenset({"password"})  # credential fields never shown back

# the credentials an independent pod is registered with (password authentication of a
# user with a project scope; names as keystoneauth's password plugin names them)
CREDENTIALS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "username": {"type": "string", "minLength": 1, "maxLength": 255},
        "password": {"type": "string", "minLength": 1, "maxLength": 4096},
        "user_domain_name": {"type": "string", "minLength": 1, "maxLength": 255},
        "project_name": {"type": "string", "minLength": 1, "maxLength": 255},
        "project_domain_name": {"type": "string", "minLength": 1, "maxLength": 255},
    },
    "required": ["username", "password", "project_name"],
    "additionalProperties": False,
}
# Application credentials are bound to one project: a token of one cannot be scoped to
# the projects Cascade maps into the pod, so they cannot serve (said in the 400).
APP_CREDENTIAL_KEYS = frozenset({"application_credential_id", "application_credential_secret"})


def public(credentials: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The credentials as the admin API shows them: without their secrets."""
    if credentials is None:
        return None
    return {k: v for k, v in credentials.items() if k not in SECRETS}


def independent(pod: Pod) -> bool:
    """Whether the pod has a Keystone of its own."""
    return pod.identity == INDEPENDENT


def _fingerprint(pod: Pod) -> str:
    raw = json.dumps([pod.auth_url, pod.credentials], sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()


# Keystone's ids as Keystone makes them (projects, users): 32 hexadecimal digits
KEYSTONE_ID = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")


class IdSwap:
    """Ids replaced by others (`ids`: from -> to) in a text, in one pass: an id counts
    only whole (not inside a longer word: `p1` is not in `p10`)."""

    def __init__(self, ids: Mapping[str, str]) -> None:
        self.ids = dict(ids)
        alternatives = "|".join(re.escape(i) for i in sorted(self.ids, key=len, reverse=True))
        self._pattern = re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])") if ids else None
        self._bytes = re.compile(self._pattern.pattern.encode()) if self._pattern else None

    def found(self, text: str) -> set[str]:
        """The ids of this swap that `text` names."""
        return set(self._pattern.findall(text)) if self._pattern else set()

    def text(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: self.ids[m.group(0)], text)

    def raw(self, data: bytes) -> bytes:
        if self._bytes is None:
            return data
        return self._bytes.sub(lambda m: self.ids[m.group(0).decode()].encode(), data)


NO_SWAP = IdSwap({})


class ProjectMap(Protocol):
    """Top projects and the projects standing for them in an independent pod (kept at
    the top; `services.pod_projects`)."""

    async def to_pod(self, pod: Pod, project_ids: set[str]) -> IdSwap:
        """Top project id -> the pod's, for every project mapped into the pod, after
        those of `project_ids` that are top projects are (a project used in the pod for
        the first time is made there; ids that are no top project's are left alone)."""
        ...

    async def to_top(self, pod: Pod) -> IdSwap:
        """The pod's project and user ids -> the top's, for every project and user
        mapped into the pod."""
        ...

    def forget(self, pod_id: str) -> None:
        """The pod's mappings changed: read them again on the next call."""
        ...

    async def user(self, pod: Pod, user_id: str, admin: bool = False) -> tuple[str, str]:
        """The pod's user standing for top user `user_id` (made on first use) and its
        password; `admin`: the one standing for them as an admin of the top (a user of
        its own, given `admin` where it acts, so that the top user keeps no admin role
        in the pod once the top takes them for an admin no more)."""
        ...


class PodIdentities:
    """One sign-in (a `TokenValidator` against the pod's Keystone: its service token,
    project tokens and catalog) per independent pod, made on first use and made again
    when the pod's credentials or Keystone URL change."""

    def __init__(self, base: KeystoneSection, transport: httpx.AsyncBaseTransport | None) -> None:
        self.base = base  # timeouts, cache sizes and the project role, as the top's
        self.transport = transport
        self._by_pod: dict[str, tuple[str, TokenValidator]] = {}
        self._retired: list[TokenValidator] = []

    def of(self, pod: Pod) -> TokenValidator:
        """The pod's sign-in (for an independent pod only)."""
        key = _fingerprint(pod)
        found = self._by_pod.get(pod.id)
        if found is not None and found[0] == key:
            return found[1]
        if found is not None:
            # calls under way may still use it: closed with the registry
            self._retired.append(found[1])
        creds = pod.credentials or {}
        conf = replace(
            self.base,
            auth_url=str(pod.auth_url or "").rstrip("/"),
            username=str(creds.get("username", "")),
            password=str(creds.get("password", "")),
            user_domain_name=str(creds.get("user_domain_name", "Default")),
            project_name=str(creds.get("project_name", "")),
            project_domain_name=str(creds.get("project_domain_name", "Default")),
        )
        validator = TokenValidator(conf, transport=self.transport)
        self._by_pod[pod.id] = (key, validator)
        return validator

    async def aclose(self) -> None:
        for _, validator in self._by_pod.values():
            await validator.aclose()
        for validator in self._retired:
            await validator.aclose()
