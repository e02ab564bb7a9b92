"""A NUL character in an id, a key prefix or a filter never reaches the database (issue 9): on
PostgreSQL it was a 500 in `DELETE …/items/msg_%00` and in ten console URLs. Walks every route."""

import pytest

from conversations.models import AuditEvent, Conversation, Item
from tests.factories import make_conversation


@pytest.fixture
def conversation(project):
    return make_conversation(project, items=[{"role": "user", "content": "hello"}])


def api_paths(c):
    item = c.items.get().public_id
    return [
        ("get", "/v1/conversations/conv_%00"),
        ("post", "/v1/conversations/conv_%00"),
        ("delete", "/v1/conversations/conv_%00"),
        ("get", "/v1/conversations/conv_%00/items"),
        ("post", "/v1/conversations/conv_%00/items"),
        ("get", f"/v1/conversations/{c.public_id}/items/msg_%00"),
        ("delete", f"/v1/conversations/{c.public_id}/items/msg_%00"),
        ("delete", f"/v1/conversations/conv_%00/items/{item}"),
    ]


def test_every_api_route_answers_404_for_a_nul_in_the_path(api, conversation):
    before = (Conversation.objects.count(), Item.objects.count(), AuditEvent.objects.count())
    for method, path in api_paths(conversation):
        response = getattr(api, method)(path, data={}, format="json")
        assert response.status_code == 404, (method, path, response.content)
        error = response.json()["error"]
        assert error["code"] == "not_found"
        assert error["param"] == ("item_id" if "msg_%00" in path else "conversation_id")
    assert (Conversation.objects.count(), Item.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.parametrize("query", ["after=conv_%00", "metadata[plan]=a%00b", "text=%00", "created_after=%00"])
def test_a_nul_in_an_api_query_parameter_is_a_400(api, conversation, query):
    response = api.get(f"/v1/conversations?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == query.split("=")[0]
    response = api.get(f"/v1/conversations/{conversation.public_id}/items?{query}")
    assert response.status_code == 400


def test_every_console_url_refuses_a_nul(admin_client_, conversation):
    item = conversation.items.get().public_id
    c = conversation.public_id
    paths = [
        "/conversations/conv_%00/", "/conversations/conv_%00/metadata/", "/conversations/conv_%00/delete/",
        "/conversations/conv_%00/export.json", f"/conversations/{c}/items/msg_%00/",
        f"/conversations/{c}/items/msg_%00/delete/", f"/conversations/conv_%00/items/{item}/delete/",
        "/api-keys/cvs_%00/revoke/",
    ]
    for path in paths:
        assert admin_client_.get(path).status_code == 404, path
        assert admin_client_.post(path, {"confirm": "yes"}).status_code == 404, path
    for query in ["?q=conv_%00", "?text=a%00", "?metadata[plan]=%00", "?created_after=%00"]:
        assert admin_client_.get(f"/{query}").status_code == 400, query
        assert admin_client_.get(f"/conversations/export.jsonl{query}").status_code == 400, query
    for query in ["?actor=%00", "?action=%00", "?conversation=conv_%00"]:
        assert admin_client_.get(f"/audit/{query}").status_code == 400, query
    response = admin_client_.post("/conversations/delete/", {"ids": ["conv_\x00", c], "confirm": "yes"})
    assert response.status_code == 400
    assert Conversation.objects.filter(public_id=c).exists()  # nothing of the batch was deleted


# --- a path parameter is one segment (gunicorn hands the undecoded request line as RAW_URI) ----------


def test_an_encoded_slash_in_a_conversation_id_never_reaches_the_item_route(api, conversation):
    item = conversation.items.get().public_id
    decoded = f"/v1/conversations/{conversation.public_id}/items/{item}"
    raw = f"/v1/conversations/{conversation.public_id}%2Fitems%2F{item}"  # delete("conv_A/items/msg_B")
    response = api.delete(decoded, RAW_URI=raw)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_url"
    assert conversation.items.filter(public_id=item).exists()
    response = api.get(f"/v1/conversations/{conversation.public_id}/items",
                       RAW_URI=f"/v1/conversations/{conversation.public_id}%2fitems?limit=1")
    assert response.status_code == 404
    # The same route with real slashes still works.
    assert api.get(decoded, RAW_URI=decoded).status_code == 200


def test_an_encoded_slash_in_a_console_url_is_a_404(admin_client_, conversation):
    item = conversation.items.get().public_id
    path = f"/conversations/{conversation.public_id}/items/{item}/delete/"
    raw = f"/conversations/{conversation.public_id}%2Fitems%2F{item}/delete/"
    assert admin_client_.post(path, {"confirm": "yes"}, RAW_URI=raw).status_code == 404
    assert conversation.items.filter(public_id=item).exists()
