"""``/audit``: the audit log, newest first, filtered by object, actor and action, paged."""

from __future__ import annotations

from starlette.requests import Request

from ...store import Store
from .. import arguments, queries
from ..rendering import Page, url_with


def audit(request: Request, store: Store) -> Page:
    filters = {
        "object_type": arguments.text(request, "object_type"),
        "object_id": arguments.text(request, "object_id"),
        "actor": arguments.text(request, "actor"),
        "action": arguments.text(request, "action"),
    }
    paging = arguments.paging(request)
    found = queries.audit_page(store, **filters, offset=paging.offset, limit=paging.per_page)
    pages = max(1, -(-found.total // paging.per_page))
    data = {
        **filters,
        "page": paging.page,
        "per_page": paging.per_page,
        "total": found.total,
        "pages": pages,
        "events": [event.to_dict() for event in found.events],
        "next": url_with(request, page=paging.page + 1) if paging.page < pages else None,
        "previous": url_with(request, page=paging.page - 1) if paging.page > 1 else None,
    }
    return Page(
        "audit.html.j2",
        "Audit log",
        data,
        view={"choices": queries.audit_choices(store)},
        section="/audit",
    )
