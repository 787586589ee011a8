"""What every Cascade panel shares: a table view over one admin API collection, paged
by the API's own marker and filtered by its query parameters (server-side)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _
from horizon import exceptions, tables

from cascade_dashboard import api

# rows a page of a table shows (the admin API pages up to 1000)
PAGE = 50


class ListView(tables.DataTableView):  # type: ignore[misc]
    """GET `path` of the admin API: its `key` rows, PAGE at a time (the table's "Next"
    link carries the API's marker), with the table's server filter as a query parameter.
    An API error shows Horizon's error message and an empty table."""

    template_name = "horizon/common/_data_table_view.html"
    path: ClassVar[str] = ""
    key: ClassVar[str] = ""
    # the newest rows first (the API's `sort_dir=desc`): what an operator looks for in a
    # queue or a history
    newest_first: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._more = False

    def has_more_data(self, table: Any) -> bool:
        return self._more

    def list_path(self) -> str:
        """The collection's path (a panel of a sub-collection names it from the URL)."""
        return self.path

    def get_data(self) -> list[api.Row]:
        marker = self.request.GET.get(self.table_class._meta.pagination_param)
        filters = self.get_filters()
        if self.newest_first:
            filters = {**filters, "sort_dir": "desc"}
        try:
            found = api.client(self.request).list(
                self.list_path(), self.key, filters, limit=PAGE + 1, marker=marker
            )
        except Exception:
            exceptions.handle(self.request, _("Unable to read Cascade's %s.") % self.key)
            return []
        self._more = len(found) > PAGE
        return [api.Row(row) for row in found[:PAGE]]


def short(value: str | None) -> str:
    """An id shortened for a column (the whole one is in the row's detail)."""
    return "-" if not value else value[:8]
