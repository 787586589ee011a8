"""The OpenStackClient plugin: `openstack cascade ...` (entry point group
`openstack.cli.extension`, name `cascade`).

OSC calls `build_option_parser` while it builds its options and `make_client` the first
time a command uses `client_manager.cascade`. The client's requests go through OSC's
keystoneauth session (the caller's token); the endpoint is the catalog's service type
`cascade` at OSC's interface and region, unless `--os-cascade-url` (OS_CASCADE_URL)
names one: the admin API's `/v1`, e.g. http://127.0.0.1:20080/v1.
"""

from __future__ import annotations

import argparse
from typing import Any

from keystoneauth1 import adapter
from osc_lib import utils

from cascadeclient.v1.client import Client

API_NAME = "cascade"
API_VERSION_OPTION = "os_cascade_api_version"
DEFAULT_API_VERSION = "1"
API_VERSIONS = {"1": "cascadeclient.v1.client.Client"}
SERVICE_TYPE = "cascade"


def make_client(instance: Any) -> Client:
    """The admin API's client for OSC's ClientManager `instance`."""
    client_class = utils.get_client_class(API_NAME, instance._api_version[API_NAME], API_VERSIONS)
    # OSC's openstack.config keeps the `--os-*` options without their `os_` prefix
    override = instance.get_configuration().get("cascade_url")
    session = adapter.Adapter(
        instance.session,
        service_type=SERVICE_TYPE,
        interface=instance.interface,
        region_name=instance.region_name,
        endpoint_override=override or None,
    )
    made: Client = client_class(session)
    return made


def build_option_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """OSC's parser with the plugin's global options."""
    parser.add_argument(
        "--os-cascade-api-version",
        metavar="<cascade-api-version>",
        default=utils.env("OS_CASCADE_API_VERSION", default=DEFAULT_API_VERSION),
        help=f"Cascade admin API version, default={DEFAULT_API_VERSION} "
        "(Env: OS_CASCADE_API_VERSION)",
    )
    parser.add_argument(
        "--os-cascade-url",
        metavar="<cascade-url>",
        default=utils.env("OS_CASCADE_URL"),
        help="Cascade admin API endpoint, its /v1 (e.g. http://127.0.0.1:20080/v1), "
        "instead of the catalog's service type 'cascade' (Env: OS_CASCADE_URL)",
    )
    return parser
