"""Plain helpers every test module shares: the /v1 and console URLs of a conversation, the row
counts a write could change, and the one assertion for an API error answer."""

from unittest.mock import ANY
from urllib.parse import urlencode

from conversations.models import AuditEvent, Conversation, Item


def _public_id(conversation) -> str:
    """A Conversation, or its public id already."""
    return getattr(conversation, "public_id", conversation)


def _with_query(path: str, query: dict) -> str:
    """A list value repeats the parameter: include=["a", "b"] is ?include=a&include=b."""
    return f"{path}?{urlencode(query, doseq=True)}" if query else path


def conversation_url(conversation, **query) -> str:
    """/v1/conversations/<id>: retrieve, update (POST) and delete."""
    return _with_query(f"/v1/conversations/{_public_id(conversation)}", query)


def items_url(conversation, **query) -> str:
    """/v1/conversations/<id>/items: list and create; `items_url(c, order="asc", **{"include[]": x})`."""
    return _with_query(f"/v1/conversations/{_public_id(conversation)}/items", query)


def item_url(conversation, item_id: str, **query) -> str:
    """/v1/conversations/<id>/items/<item id>: retrieve and delete."""
    return _with_query(f"/v1/conversations/{_public_id(conversation)}/items/{item_id}", query)


def console_url(conversation, path: str = "") -> str:
    """The console's page of a conversation, or one below it: `console_url(c, "metadata/")`."""
    return f"/conversations/{_public_id(conversation)}/{path}"


def conversation_json(conversation, *, metadata=None) -> dict:
    """The conversation object as the API returns it (with `metadata` when given, else the model's)."""
    return {
        "id": conversation.public_id,
        "object": "conversation",
        "created_at": int(conversation.created_at.timestamp()),
        "metadata": conversation.metadata if metadata is None else metadata,
    }


def row_counts() -> tuple[int, int, int]:
    """How many conversations, items and audit events there are: everything a write could leave
    behind, so `assert row_counts() == before` proves a refused request changed nothing."""
    return Conversation.objects.count(), Item.objects.count(), AuditEvent.objects.count()


def assert_api_error(response, status: int, *, param=None, code=ANY, type="invalid_request_error") -> dict:
    """The response is an API error in OpenAI's shape, {"error": {message, type, param, code}},
    with this status, type and param (and code, when given; `code=None` asserts a null code).
    Returns the error object for further checks on its message."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"]
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    assert len(error["message"]) < 400  # never echoes a huge input back
    assert (error["type"], error["param"], error["code"]) == (type, param, code)
    return error
