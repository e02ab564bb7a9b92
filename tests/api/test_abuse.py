"""Hostile input: every answer is a clear 4xx or the right result, never a 500.

tests/api/test_errors.py has the basics (413, malformed JSON, NUL characters, lone surrogates,
deep nesting); this file adds what fuzzing and abuse lists bring.
"""

import pytest

from conversations.models import Conversation, Item


def rows():
    return Conversation.objects.count(), Item.objects.count()


def assert_400(response, param):
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
    return error


# --- item bodies -------------------------------------------------------------------------------


@pytest.mark.parametrize("item_type", [{}, [], 5, True, None], ids=["object", "array", "number", "boolean", "null"])
def test_an_item_type_that_is_not_a_string_is_a_400(api, project, item_type):
    # Found by schemathesis: {"type": {}} was a 500 (an unhashable dict used as a lookup key).
    response = api.post("/v1/conversations", {"items": [{"type": item_type, "id": "x"}]}, format="json")
    error = assert_400(response, "items[0].type")
    assert error["code"] == "invalid_type"
    assert rows() == (0, 0)
