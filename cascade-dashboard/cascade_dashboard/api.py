"""The admin API's client for a Horizon request: python-cascadeclient's `Client` on a
keystoneauth session carrying the signed-in user's token, at the catalog's `cascade`
endpoint of the user's region (what `openstack cascade ...` uses too)."""

from __future__ import annotations

from typing import Any

from keystoneauth1 import adapter, session, token_endpoint
from openstack_dashboard.api import base

from cascadeclient.v1.client import Client

SERVICE_TYPE = "cascade"


def client(request: Any) -> Client:
    """A client that acts as the signed-in user (their token, their region's endpoint)."""
    endpoint = base.url_for(request, SERVICE_TYPE)
    auth = token_endpoint.Token(endpoint, request.user.token.id)
    # the endpoint given again: an Adapter without one asks the catalog, which a
    # token_endpoint plugin does not have
    return Client(adapter.Adapter(session.Session(auth=auth), endpoint_override=endpoint))


class Row:
    """One row of the admin API as Horizon's tables read it (attributes, `id`)."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.__dict__.update(fields)
        self.fields = fields

    def __getattr__(self, name: str) -> Any:
        """Only for a field the row lacks (the others are attributes): Horizon's
        AttributeError, and to mypy any field of any row."""
        raise AttributeError(name)
