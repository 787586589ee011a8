"""Tokens at the top, against the devcloud's Keystone: a revoked token is refused within
`[keystone] revocation_check_interval` (the devcloud runs the default)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from cascade.conf import KeystoneSection
from tests.integration.conftest import connect

pytestmark = pytest.mark.integration
TOP = "http://127.0.0.1:20080"


def test_a_revoked_token_is_refused_within_the_revocation_check_interval(
    clouds_yaml: Path,
) -> None:
    conn = connect("cascade")  # a token of its own, not shared with other tests
    token = str(conn.auth_token)
    auth_url = str(conn.session.get_endpoint(service_type="identity", interface="public"))
    conn.close()
    headers = {"X-Auth-Token": token}
    with httpx.Client(base_url=TOP, headers=headers, timeout=30) as top:
        assert top.get("/compute/v2.1/flavors").status_code == 200  # validated and cached
        revoked = httpx.delete(
            f"{auth_url.rstrip('/').removesuffix('/v3')}/v3/auth/tokens",
            headers={**headers, "X-Subject-Token": token},
        )
        assert revoked.status_code == 204, revoked.text
        start = time.monotonic()
        interval = KeystoneSection().revocation_check_interval
        while (status := top.get("/compute/v2.1/flavors").status_code) == 200:
            assert time.monotonic() - start < interval + 5, "a revoked token still accepted"
            time.sleep(0.5)
        refused_after = time.monotonic() - start
    print(f"revoked token refused by the top after {refused_after:.1f} s (interval {interval} s)")
    assert status == 401
