from conversations.models import AuditEvent, Conversation, Item
from tests.factories import append_messages, make_conversation
from tests.helpers import assert_api_error, conversation_json, conversation_url, items_url


def test_it_replaces_the_whole_metadata_map(api, project):
    conversation = make_conversation(project, metadata={"a": "1", "b": "2"})
    response = api.post(conversation_url(conversation), {"metadata": {"c": "3"}}, format="json")
    assert response.status_code == 200
    assert response.json()["metadata"] == {"c": "3"}
    conversation.refresh_from_db()
    assert conversation.metadata == {"c": "3"}


def test_it_returns_the_updated_conversation(api, project):
    conversation = make_conversation(project, metadata={"a": "1"})
    response = api.post(conversation_url(conversation), {"metadata": {"a": "2"}}, format="json")
    assert response.json() == conversation_json(conversation, metadata={"a": "2"})


def test_null_metadata_clears_the_map_to_an_empty_object(api, project):
    conversation = make_conversation(project, metadata={"a": "1"})
    response = api.post(conversation_url(conversation), {"metadata": None}, format="json")
    assert response.status_code == 200
    assert response.json()["metadata"] == {}
    conversation.refresh_from_db()
    assert conversation.metadata == {}
    assert api.get(conversation_url(conversation)).json()["metadata"] == {}


def test_an_empty_object_clears_the_map(api, project):
    conversation = make_conversation(project, metadata={"a": "1"})
    response = api.post(conversation_url(conversation), {"metadata": {}}, format="json")
    assert response.status_code == 200
    assert response.json()["metadata"] == {}


def test_it_rejects_a_body_without_the_metadata_key(api, project):
    conversation = make_conversation(project, metadata={"a": "1"})
    response = api.post(conversation_url(conversation), {}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == (
        "invalid_request_error", "metadata", "missing_required_parameter"
    )
    conversation.refresh_from_db()
    assert conversation.metadata == {"a": "1"}
    assert not AuditEvent.objects.filter(action="conversation.update").exists()


def test_it_rejects_metadata_that_is_not_an_object(api, project):
    conversation = make_conversation(project, metadata={"a": "1"})
    response = api.post(conversation_url(conversation), {"metadata": "a=2"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "metadata"
    conversation.refresh_from_db()
    assert conversation.metadata == {"a": "1"}


def test_it_leaves_the_items_alone(api, project):
    conversation = make_conversation(project)
    append_messages(conversation, 3)
    listed = api.get(items_url(conversation, order="asc")).json()["data"]
    response = api.post(conversation_url(conversation), {"metadata": {"a": "1"}}, format="json")
    assert (response.status_code, response.json()["metadata"]) == (200, {"a": "1"})
    conversation.refresh_from_db()
    assert (conversation.metadata, conversation.item_count) == ({"a": "1"}, 3)
    assert api.get(items_url(conversation, order="asc")).json()["data"] == listed
    assert [item["content"][0]["text"] for item in listed] == ["message 0+ 0", "message 0+ 1", "message 0+ 2"]


def test_it_refuses_items_in_the_body(api, project):
    """Items are not an update parameter: 400 `unknown_parameter` (spec §12), nothing written."""
    conversation = make_conversation(project, metadata={"a": "1"})
    response = api.post(conversation_url(conversation), {"metadata": {}, "items": [{"role": "user", "content": "x"}]},
                        format="json")
    assert_api_error(response, 400, param="items", code="unknown_parameter")
    assert Item.objects.filter(conversation=conversation).count() == 0
    conversation.refresh_from_db()
    assert conversation.metadata == {"a": "1"}


def test_it_audits_which_keys_changed_but_never_their_values(api, project, api_key):
    conversation = make_conversation(project, metadata={"a": "1", "c": "3"})
    api.post(conversation_url(conversation), {"metadata": {"b": "2", "c": "three"}}, format="json")
    event = AuditEvent.objects.get(action="conversation.update", conversation_id=conversation.public_id)
    assert event.details == {"added": ["b"], "removed": ["a"], "changed": ["c"]}
    assert event.actor_api_key == api_key[0]


def test_it_answers_404_for_an_unknown_conversation(api, project):
    response = api.post("/v1/conversations/conv_missing", {"metadata": {"a": "1"}}, format="json")
    assert response.status_code == 404
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("conversation_id", "not_found")
    assert "conv_missing" in error["message"]
    assert Conversation.objects.count() == 0


def test_patch_is_not_allowed(api, project):
    conversation = make_conversation(project, metadata={"a": "1"})
    response = api.patch(conversation_url(conversation), {"metadata": {"b": "2"}}, format="json")
    assert response.status_code == 405
    conversation.refresh_from_db()
    assert conversation.metadata == {"a": "1"}
