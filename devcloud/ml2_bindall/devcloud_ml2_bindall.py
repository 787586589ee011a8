"""ML2 mechanism driver for the devcloud: binds every port on every host.

The devcloud has no L2 agents and no data path (Nova's fake virt driver runs
no guests), so no real driver can bind a port and Nova's boot would end in
PortBindingFailed. This driver binds the first segment offered with
vif_type 'ovs' and marks the port ACTIVE at once. Never use it outside a
fake-virt test cloud.
"""

from __future__ import annotations

from typing import Any

from neutron_lib import constants
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api


class BindAllMechanismDriver(api.MechanismDriver):  # type: ignore[misc]
    def initialize(self) -> None:
        """Nothing to set up: no agents, no back-end."""

    @property
    def connectivity(self) -> str:
        return str(portbindings.CONNECTIVITY_L2)

    def bind_port(self, context: Any) -> None:
        if not context.segments_to_bind:
            return
        segment = context.segments_to_bind[0]
        context.set_binding(
            segment[api.ID],
            portbindings.VIF_TYPE_OVS,
            {portbindings.CAP_PORT_FILTER: True, portbindings.OVS_HYBRID_PLUG: False},
            status=constants.PORT_STATUS_ACTIVE,
        )
