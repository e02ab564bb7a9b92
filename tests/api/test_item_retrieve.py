from conversations.models import AuditEvent
from tests.factories import append_messages, make_conversation
from tests.helpers import assert_api_error, item_url, items_url


def test_it_returns_the_bare_item(api, project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "hello"}])
    item = conversation.items.get()
    response = api.get(item_url(conversation, item.public_id))
    assert response.status_code == 200
    assert response.json() == {
        "id": item.public_id,
        "type": "message",
        "role": "user",
        "status": "completed",
        "content": [{"type": "input_text", "text": "hello"}],
    }


def test_it_returns_the_same_item_as_items_list(api, project):
    conversation = make_conversation(project)
    items = append_messages(conversation, 3)
    listed = api.get(items_url(conversation)).json()["data"]
    middle = api.get(item_url(conversation, items[1].public_id)).json()
    assert middle == listed[1]


def test_it_accepts_include_in_both_spellings(api, project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "hello"}])
    item = conversation.items.get()
    for name in ("include[]", "include"):
        response = api.get(item_url(conversation, item.public_id, **{name: "message.input_image.image_url"}))
        assert response.status_code == 200


def test_it_rejects_an_unknown_include_value(api, project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "hello"}])
    item = conversation.items.get()
    response = api.get(item_url(conversation, item.public_id, **{"include[]": "everything"}))
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("include", "invalid_value")


def test_it_answers_404_for_an_unknown_item(api, project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "hello"}])
    response = api.get(item_url(conversation, "msg_missing"))
    error = assert_api_error(response, 404, param="item_id", code="not_found")
    assert error["message"] == f"No item found with id 'msg_missing' in conversation '{conversation.public_id}'."


def test_it_answers_404_for_an_item_of_another_conversation(api, project):
    conversation = make_conversation(project)
    other = make_conversation(project, items=[{"role": "user", "content": "elsewhere"}])
    response = api.get(item_url(conversation, other.items.get().public_id))
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "item_id"


def test_it_answers_404_for_an_unknown_conversation(api, project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "hello"}])
    item = conversation.items.get()
    response = api.get(f"/v1/conversations/conv_missing/items/{item.public_id}")
    assert response.status_code == 404
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("conversation_id", "not_found")
    assert "conv_missing" in error["message"]


def test_it_answers_404_for_a_deleted_item(api, project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "hello"}])
    item = conversation.items.get()
    api.delete(item_url(conversation, item.public_id))
    response = api.get(item_url(conversation, item.public_id))
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "item_id"


def test_it_writes_no_audit_event(api, project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "hello"}])
    count = AuditEvent.objects.count()
    api.get(item_url(conversation, conversation.items.get().public_id))
    assert AuditEvent.objects.count() == count
