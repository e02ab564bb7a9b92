"""OpenAI's list envelope around a keyset page from conversations.queries."""

from conversations import validators
from conversations.queries import Page


def page_params(query_params) -> dict:
    """`after`, `limit` and `order` from a query string, checked by the domain's rules."""
    return {
        "after": query_params.get("after") or None,
        "limit": validators.validate_limit(query_params.get("limit")),
        "order": validators.validate_order(query_params.get("order")),
    }


def list_envelope(page: Page, serializer_class, context: dict | None = None) -> dict:
    return {
        "object": "list",
        "data": serializer_class(page.data, many=True, context=context or {}).data,
        "first_id": page.first_id,
        "last_id": page.last_id,
        "has_more": page.has_more,
    }
