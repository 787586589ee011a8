"""Pod bodies at the top: URL rewriting on the JSON text before decoding."""

from __future__ import annotations

import json

from cascade.api.compute.server_views import pod_json, server
from cascade.db.models import Pod

POD = "http://127.0.0.1:21774/"
TOP = "http://cascade.test/compute/"


def test_string_values_that_start_with_the_pod_root_move_and_nothing_else() -> None:
    body = {
        "servers": [
            {
                "links": [{"href": POD + "v2.1/servers/1"}, {"href": POD + "servers/1"}],
                "name": POD,
                "metadata": {
                    "note": "see " + POD + "v2.1",  # the root inside a value
                    "quoted": '"' + POD + '"',  # after an escaped quote, inside a value
                },
            }
        ]
    }
    server = pod_json(json.dumps(body), POD, TOP)["servers"][0]
    assert [link["href"] for link in server["links"]] == [
        TOP + "v2.1/servers/1",
        TOP + "servers/1",
    ]
    assert server["name"] == TOP
    assert server["metadata"] == body["servers"][0]["metadata"]


def test_the_pods_az_is_the_tops_where_the_server_is_and_where_it_is_pinned() -> None:
    pod = Pod(id="p", name="pod1", region_name="pod1", az="az1", pod_az="nova")
    item = {"OS-EXT-AZ:availability_zone": "nova", "pinned_availability_zone": "nova"}
    assert server(item, pod, lambda _: None) == {
        "OS-EXT-AZ:availability_zone": "az1",
        "pinned_availability_zone": "az1",
    }
    unpinned = {"OS-EXT-AZ:availability_zone": "nova", "pinned_availability_zone": None}
    assert server(unpinned, pod, lambda _: None)["pinned_availability_zone"] is None
