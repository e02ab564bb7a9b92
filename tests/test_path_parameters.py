"""Path parameters and ids from requests (issue 9). A NUL character in an id, a key prefix or a
filter never reaches the database: on PostgreSQL it was a 500 in `DELETE …/items/msg_%00` and in ten
console URLs (the domain's QuerySet.where guards every lookup). An encoded `/` in a path parameter
never reaches another route. Walks every route."""

import pytest

from conversations import services
from conversations.models import AuditEvent, Conversation
from tests.factories import make_conversation
from tests.helpers import row_counts


@pytest.fixture
def conversation(project):
    return make_conversation(project, items=[{"role": "user", "content": "hello"}])


# Valid bodies, so that the id is what the request is refused for.
BODIES = {("post", "conv_%00"): {"metadata": {}}, ("post", "items"): {"items": [{"role": "user", "content": "x"}]}}


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
    before = row_counts()
    for method, path in api_paths(conversation):
        response = getattr(api, method)(path, data=BODIES.get((method, path.rsplit("/", 1)[-1])), format="json")
        assert response.status_code == 404, (method, path, response.content)
        error = response.json()["error"]
        assert error["code"] == "not_found"
        assert error["param"] == ("item_id" if "msg_%00" in path else "conversation_id")
    assert row_counts() == before


@pytest.mark.parametrize("query", ["after=conv_%00", "metadata[plan]=a%00b", "text=%00", "created_after=%00"])
def test_a_nul_in_a_list_parameter_is_a_400_naming_it(api, conversation, query):
    response = api.get(f"/v1/conversations?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == query.split("=")[0]


def test_a_nul_in_an_items_cursor_is_a_400_naming_it(api, conversation):
    response = api.get(f"/v1/conversations/{conversation.public_id}/items?after=msg_%00")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "after"


def test_every_console_url_with_a_nul_id_is_a_404(admin_client_, conversation):
    item = conversation.items.get().public_id
    c = conversation.public_id
    paths = [
        "/conversations/conv_%00/", "/conversations/conv_%00/metadata/", "/conversations/conv_%00/delete/",
        "/conversations/conv_%00/export.json", f"/conversations/{c}/items/msg_%00/",
        f"/conversations/conv_%00/items/{item}/delete/",
    ]
    for path in paths:
        assert admin_client_.get(path).status_code == 404, path
        assert admin_client_.post(path, {"confirm": "yes"}).status_code == 404, path
    # Deleting an item that is not there is a no-op that returns to the page (the item is gone either way).
    path = f"/conversations/{c}/items/msg_%00/delete/"
    assert admin_client_.get(path).status_code == 404
    assert admin_client_.post(path, {"confirm": "yes"}).status_code == 302
    assert conversation.items.filter(public_id=item).exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.ITEM_DELETE).exists()
    # Revoking a key that does not exist returns to the keys page and says so.
    assert admin_client_.get("/api-keys/cvs_%00/revoke/").status_code == 404
    response = admin_client_.post("/api-keys/cvs_%00/revoke/", {"confirm": "yes"}, follow=True)
    assert "No API key with prefix" in response.content.decode()


def test_console_filters_with_a_nul_find_nothing_instead_of_failing(admin_client_, conversation):
    services.conversation_update(conversation=conversation, actor=services.SYSTEM, metadata={"plan": "pro"})
    assert admin_client_.get("/?id=conv_%00").status_code == 200  # no such id: the search page
    for query in ["?text=a%00", "?metadata[plan]=%00", "?created_after=%00"]:
        response = admin_client_.get(f"/{query}")
        assert response.status_code == 200, query
        assert conversation.public_id not in response.content.decode(), query
    response = admin_client_.get("/audit/")
    assert conversation.public_id in response.content.decode()  # the update's audit row is listed
    for query in ["?actor=%00", "?conversation=conv_%00"]:
        response = admin_client_.get(f"/audit/{query}")
        assert response.status_code == 200, query
        assert conversation.public_id not in response.content.decode(), query


def test_a_nul_id_in_a_bulk_delete_names_nothing_and_the_rest_is_deleted(admin_client_, project, conversation):
    kept = make_conversation(project)
    response = admin_client_.post("/conversations/delete/", {"ids": ["conv_\x00", conversation.public_id],
                                                            "confirm": "yes"})
    assert response.status_code == 302
    assert not Conversation.objects.filter(public_id=conversation.public_id).exists()
    assert Conversation.objects.filter(public_id=kept.public_id).exists()


def test_a_nul_in_a_console_metadata_value_is_a_form_error_and_changes_nothing(admin_client_, conversation):
    path = f"/conversations/{conversation.public_id}/metadata/"
    response = admin_client_.post(path, {"key": "plan", "value": "a\x00b"})
    assert response.status_code == 200
    assert "NUL" in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.metadata == {}


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
