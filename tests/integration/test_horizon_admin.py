"""The Cascade dashboard (cascade-dashboard/, Horizon's plugin) in headless Chromium: an
admin sees the pods with health, breakers and capacity, audits and their findings,
jobs filtered by resource and redone, routings and bindings (that a member does not see
it is checked by test_horizon.py, signed in as one)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openstack.connection import Connection
from selenium.webdriver.common.by import By
from selenium.webdriver.support.expected_conditions import staleness_of

from devcloud.layout import Layout
from tests.integration.browser import Dashboard, dashboard
from tests.integration.conftest import DEVCLOUD_DIR, connect
from tests.integration.test_audits import audited

pytestmark = pytest.mark.integration
__all__ = ["dashboard"]  # the fixture used here


@pytest.fixture
def admin(clouds_yaml: Path) -> Iterator[Connection]:
    conn = connect("cascade-admin")
    yield conn
    conn.close()


def api(admin: Connection, path: str) -> Any:
    url = Layout(DEVCLOUD_DIR).url("cascade") + "/v1" + path
    resp = admin.session.get(url, raise_exc=False)
    assert resp.status_code == 200, resp.text
    return resp.json()


def rows(ui: Dashboard, table: str) -> list[str]:
    return [r.text for r in ui.driver.find_elements(By.CSS_SELECTOR, f"table#{table} tbody tr")]


def server_filter(ui: Dashboard, table: str, field: str, value: str) -> None:
    """The table's server-side filter: pick the field, type the value, press Filter, and
    wait for the filtered page (the old table gone, the new one there): rows read while
    the browser swaps the pages go stale under the reader."""
    old = ui.driver.find_element(By.CSS_SELECTOR, f"table#{table}")
    ui.driver.find_element(
        By.CSS_SELECTOR, ".table_search .themable-select .dropdown-toggle"
    ).click()
    ui.driver.find_element(
        By.XPATH, f"//div[contains(@class,'table_search')]//ul//*[normalize-space()='{field}']"
    ).click()
    box = ui.driver.find_element(By.NAME, f"{table}__filter__q")
    box.clear()
    box.send_keys(value)
    ui.driver.find_element(By.ID, f"{table}__action_filter").click()
    ui.wait(lambda d: staleness_of(old)(d), "the filtered page")
    ui.wait(lambda d: d.find_elements(By.CSS_SELECTOR, f"table#{table}"), f"the {table} table")


def test_an_admin_runs_cascade_from_the_dashboard(dashboard: Dashboard, admin: Connection) -> None:
    pods = {p["name"]: p for p in api(admin, "/pods")["pods"]}
    audit = audited(admin, pods["pod1"]["id"])
    (job,) = api(admin, f"/jobs?resource_id={audit['id']}")["jobs"]
    assert job["status"] == "done"

    ui = dashboard
    ui.login("admin")
    ui.open("cascade/")  # Pods, the default panel
    shown = {r.split()[0]: r for r in rows(ui, "pods")}
    assert {"pod1", "pod2"} <= set(shown)
    for name in ("pod1", "pod2"):
        assert pods[name]["az"] in shown[name] and "active" in shown[name], shown[name]
        assert "up (" in shown[name] and "compute: closed" in shown[name], shown[name]
        assert "MB RAM free" in shown[name], shown[name]
    ui.shot("cascade-pods")

    ui.open("cascade/audits/")
    assert audit["id"] in rows(ui, "audits")[0]  # the newest first
    row = ui.driver.find_element(
        By.CSS_SELECTOR, f"table#audits tr[data-object-id='{audit['id']}']"
    )
    assert "done" in row.text and pods["pod1"]["id"] in row.text
    row.find_element(By.LINK_TEXT, audit["id"]).click()
    ui.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "table#findings"), "the findings")
    assert audit["id"] in ui.driver.find_element(By.CSS_SELECTOR, ".page-header").text
    assert not ui.page_errors()
    ui.shot("cascade-audit-findings")

    # the jobs of one resource, and one redone
    ui.open("cascade/jobs/")
    # newest first: the audit's job is on the first page however many jobs the devcloud ran
    assert any(job["id"] in r for r in rows(ui, "jobs")), rows(ui, "jobs")[:3]
    server_filter(ui, "jobs", "Resource ID =", audit["id"])
    ui.wait(lambda d: len(rows(ui, "jobs")) == 1 and job["id"] in rows(ui, "jobs")[0], "1 job")
    ui.shot("cascade-jobs")
    row = ui.driver.find_element(By.CSS_SELECTOR, f"table#jobs tr[data-object-id='{job['id']}']")
    row.find_element(By.CSS_SELECTOR, "button[id$='__action_redo']").click()
    ui.driver.implicitly_wait(2)
    for confirm in ui.driver.find_elements(By.CSS_SELECTOR, ".modal-dialog .btn-primary"):
        confirm.click()  # a confirmation, where Horizon asks for one
    ui.driver.implicitly_wait(10)
    messages = ui.messages()
    assert any("Queued Job Again" in m for m in messages), messages
    deadline = time.monotonic() + 60
    while True:
        again = api(admin, f"/jobs/{job['id']}")["job"]
        if again["updated_at"] != job["updated_at"] and again["status"] == "done":
            break
        assert time.monotonic() < deadline, again
        time.sleep(1)

    ui.open("cascade/routings/")
    server_filter(ui, "routings", "Resource Type =", "server")
    listed = rows(ui, "routings")
    assert listed and all(r.startswith("server ") for r in listed), listed[:3]
    ui.shot("cascade-routings")
    ui.open("cascade/bindings/")
    assert any("az1" in r for r in rows(ui, "bindings"))
    assert not ui.page_errors()
