"""Horizon (from PyPI, run by the devcloud) in front of the top, driven in headless
Chromium as a tenant would: demo signs in, makes a network and a router with a gateway,
launches an instance in az1 and one in az2 on that network, makes a volume and attaches
it, allocates a floating IP and associates it, and sees both servers in one list.
Everything is checked at the top through openstacksdk too, and deleted after."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from openstack.connection import Connection
from selenium.webdriver.common.by import By

from tests.integration.browser import Dashboard, dashboard
from tests.integration.conftest import connect

pytestmark = pytest.mark.integration
__all__ = ["dashboard"]  # the fixture used here
IMAGE = "tiny"
FLAVOR = "m1.tiny"  # m1.nano has no disk: Nova boots it from a volume only


@pytest.fixture
def demo(clouds_yaml: Path) -> Iterator[Connection]:
    conn = connect("cascade")
    yield conn
    conn.close()


@pytest.fixture
def names(demo: Connection) -> Iterator[dict[str, str]]:
    """This test's names; whatever of them exists at the top afterwards is deleted."""
    tag = uuid.uuid4().hex[:6]
    made = {k: f"hz-{k}-{tag}" for k in ("net", "subnet", "router", "vm1", "vm2", "vol")}
    yield made
    cleanup(demo, made)


def cleanup(conn: Connection, names: dict[str, str]) -> None:
    """Delete what the test made, in the order Neutron and Cinder accept (a deleted
    server lets its volume go)."""
    servers = [s for k in ("vm1", "vm2") if (s := conn.compute.find_server(names[k]))]
    ports = {p.id for s in servers for p in conn.network.ports(device_id=s.id)}
    for ip in conn.network.ips():
        if ip.description == names["vm1"] or ip.port_id in ports:
            conn.network.delete_ip(ip)
    for server in servers:
        conn.compute.delete_server(server)
        conn.compute.wait_for_delete(server, wait=120)
    volume = conn.block_storage.find_volume(names["vol"])
    if volume is not None:
        conn.block_storage.wait_for_status(volume, "available", wait=120)
        conn.block_storage.delete_volume(volume.id)
    router = conn.network.find_router(names["router"])
    subnet = conn.network.find_subnet(names["subnet"])
    if router is not None:
        if subnet is not None:
            conn.network.remove_interface_from_router(router, subnet.id)
        conn.network.delete_router(router)
    network = conn.network.find_network(names["net"])
    if network is not None:
        conn.network.delete_network(network)


def make_network(ui: Dashboard, names: dict[str, str]) -> None:
    ui.open("project/networks/")
    ui.driver.find_element(By.LINK_TEXT, "Create Network").click()
    form = ui.driver.find_element(By.CSS_SELECTOR, "form .modal-content")
    form.find_element(By.ID, "id_net_name").send_keys(names["net"])
    form.find_element(By.CSS_SELECTOR, ".btn-primary.button-next").click()
    form.find_element(By.ID, "id_subnet_name").send_keys(names["subnet"])
    form.find_element(By.ID, "id_cidr").send_keys("10.91.0.0/24")
    form.find_element(By.CSS_SELECTOR, ".btn-primary.button-next").click()
    form.find_element(By.CSS_SELECTOR, ".btn-primary.button-final").click()
    assert f'Success: Created network "{names["net"]}".' in ui.messages()


def make_router(ui: Dashboard, names: dict[str, str]) -> None:
    ui.open("project/routers/")
    ui.driver.find_element(By.LINK_TEXT, "Create Router").click()
    form = ui.modal()
    form.find_element(By.ID, "id_name").send_keys(names["router"])
    ui.choose_in(form, "id_external_network", "public")
    form.find_element(By.CSS_SELECTOR, ".btn-primary[value='Create Router']").click()
    assert f"Success: Router {names['router']} was successfully created." in ui.messages()
    ui.driver.find_element(By.LINK_TEXT, names["router"]).click()
    ui.driver.find_element(By.LINK_TEXT, "Interfaces").click()
    ui.driver.find_element(By.ID, "interfaces__action_create").click()
    form = ui.modal()
    ui.choose_in(form, "id_subnet_id", f"{names['net']}: 10.91.0.0/24 ({names['subnet']})")
    form.find_element(By.CSS_SELECTOR, ".btn-primary").click()
    assert any(m.startswith("Success: Interface added") for m in ui.messages())


def launch(ui: Dashboard, name: str, zone: str, network: str) -> None:
    """The Launch Instance wizard (AngularJS): details with the AZ, the image without a
    new volume, the flavor, the network."""
    ui.open("project/instances/")
    ui.driver.find_element(By.LINK_TEXT, "Launch Instance").click()
    wizard = ui.driver.find_element(By.CSS_SELECTOR, "wizard")
    nav = wizard.find_element(By.CSS_SELECTOR, "div.wizard-nav")
    ui.visible("wizard #name").send_keys(name)
    zones = ui.visible("wizard select#availability-zone")
    zones.find_element(By.XPATH, f".//option[normalize-space()='{zone}']").click()
    nav.find_element(By.LINK_TEXT, "Source").click()
    source = wizard.find_element(By.CSS_SELECTOR, "ng-include[ng-form=launchInstanceSourceForm]")
    ui.wait(lambda d: source.find_elements(By.ID, "vol-create"), "the source step")
    no_volume = source.find_element(By.XPATH, ".//*[@id='vol-create'][text()='No']")
    no_volume.click()
    ui.transfer(source, IMAGE)
    nav.find_element(By.LINK_TEXT, "Flavor").click()
    flavors = wizard.find_element(By.CSS_SELECTOR, "ng-include[ng-form=launchInstanceFlavorForm]")
    ui.transfer(flavors, FLAVOR)
    nav.find_element(By.LINK_TEXT, "Networks").click()
    networks = wizard.find_element(By.CSS_SELECTOR, "ng-include[ng-form=launchInstanceNetworkForm]")
    ui.transfer(networks, network)
    ui.shot(f"launch-{zone}")
    wizard.find_element(By.CSS_SELECTOR, "button.btn-primary.finish").click()
    ui.wait(lambda d: not d.find_elements(By.CSS_SELECTOR, "wizard"), "the wizard to close")
    assert not ui.page_errors()


def test_a_tenant_uses_the_dashboard_across_pods(
    dashboard: Dashboard, demo: Connection, names: dict[str, str]
) -> None:
    ui = dashboard
    ui.login("demo")
    region = ui.driver.find_element(By.CSS_SELECTOR, ".context-project").text
    assert "cascade" in ui.driver.page_source and "demo" in region
    ui.shot("overview")
    # the Cascade dashboard is for admins: no entry, and no pods behind its address
    assert not ui.driver.find_elements(By.CSS_SELECTOR, "a[href$='/dashboard/cascade/']")
    ui.open("cascade/")
    assert not ui.driver.find_elements(By.CSS_SELECTOR, "table#pods")

    make_network(ui, names)
    make_router(ui, names)
    ui.shot("router")

    launch(ui, names["vm1"], "az1", names["net"])
    launch(ui, names["vm2"], "az2", names["net"])
    ui.open("project/instances/")
    ui.until_row("instances", names["vm1"], "Active", timeout=180)
    ui.until_row("instances", names["vm2"], "Active", timeout=180)
    rows = {
        name: ui.driver.find_element(
            By.CSS_SELECTOR, f"table#instances tr[data-display='{name}']"
        ).text
        for name in (names["vm1"], names["vm2"])
    }
    assert "az1" in rows[names["vm1"]] and "az2" in rows[names["vm2"]], rows
    assert "10.91.0." in rows[names["vm1"]] and "10.91.0." in rows[names["vm2"]], rows
    vm1 = demo.compute.find_server(names["vm1"])
    vm2 = demo.compute.find_server(names["vm2"])
    assert vm1 is not None and vm2 is not None
    assert vm1.availability_zone == "az1" and vm2.availability_zone == "az2"
    ui.shot("instances")

    # a volume in az1, attached to the az1 instance
    ui.open("project/volumes/")
    ui.driver.find_element(By.LINK_TEXT, "Create Volume").click()
    form = ui.modal()
    form.find_element(By.ID, "id_name").send_keys(names["vol"])
    size = form.find_element(By.ID, "id_size")
    size.clear()
    size.send_keys("1")
    ui.choose_in(form, "id_availability_zone", "az1")
    form.find_element(By.CSS_SELECTOR, ".btn-primary[value='Create Volume']").click()
    assert f'Info: Creating volume "{names["vol"]}"' in ui.messages()
    row = ui.until_row("volumes", names["vol"], "Available")
    row.find_element(By.CSS_SELECTOR, "td.actions_column .dropdown-toggle").click()
    row.find_element(By.LINK_TEXT, "Manage Attachments").click()
    form = ui.driver.find_element(By.CSS_SELECTOR, ".modal-content form[id='attach_volume_form']")
    ui.choose_in(form, "id_instance", f"{names['vm1']} ({vm1.id})")
    form.find_element(By.CSS_SELECTOR, ".btn-primary[value='Attach Volume']").click()
    attaching = ui.messages()
    assert any(
        f"Attaching volume {names['vol']} to instance {names['vm1']}" in m for m in attaching
    )
    ui.until_row("volumes", names["vol"], "In-use")
    volume = demo.block_storage.find_volume(names["vol"])
    assert volume is not None
    assert [a["server_id"] for a in volume.attachments] == [vm1.id]
    ui.shot("volumes")

    # a floating IP from `public`, on the az1 instance
    ui.open("project/floating_ips/")
    ui.driver.find_element(By.LINK_TEXT, "Allocate IP To Project").click()
    form = ui.modal()
    ui.choose_in(form, "id_pool", "public")  # the router's gateway network
    form.find_element(By.ID, "id_description").send_keys(names["vm1"])
    form.find_element(By.CSS_SELECTOR, ".btn-primary").click()
    allocated = ui.messages()
    found = re.search(r"Allocated Floating IP (\d+\.\d+\.\d+\.\d+)", " ".join(allocated))
    assert found, allocated
    address = found.group(1)
    row = ui.driver.find_element(
        By.CSS_SELECTOR, f"table#floating_ips tr[data-display='{address}']"
    )
    row.find_element(By.CSS_SELECTOR, ".data-table-action").click()
    form = ui.driver.find_element(By.CSS_SELECTOR, "form .modal-content")
    port = next(p for p in demo.network.ports(device_id=vm1.id))
    fixed = port.fixed_ips[0]["ip_address"]
    ui.choose_in(form, "id_port_id", f"{names['vm1']}: {fixed}")
    form.find_element(By.CSS_SELECTOR, ".btn-primary").click()
    assert f"Success: IP address {address} associated." in ui.messages()
    ip = demo.network.find_ip(address)
    assert ip is not None
    assert ip.port_id == port.id and ip.fixed_ip_address == fixed
    ui.shot("floating-ips")

    # both servers in one list, the floating IP on the az1 one
    ui.open("project/instances/")
    row = ui.until_row("instances", names["vm1"], address)
    assert "az1" in row.text
    assert ui.driver.find_elements(
        By.CSS_SELECTOR, f"table#instances tr[data-display='{names['vm2']}']"
    )
    ui.shot("instances-with-floating-ip")
    ui.open("project/network_topology/")
    ui.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#topologyCanvasContainer"), "topology")
    assert not ui.page_errors()
