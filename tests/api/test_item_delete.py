from conversations.models import AuditEvent, Conversation, Item
from tests.factories import append_messages, make_conversation
from tests.helpers import assert_api_error, conversation_json, conversation_url, item_url, items_url


def test_it_returns_the_parent_conversation(api, project):
    conversation = make_conversation(project, metadata={"topic": "t"})
    item = append_messages(conversation, 1)[0]
    response = api.delete(item_url(conversation, item.public_id))
    assert response.status_code == 200
    assert response.json() == conversation_json(conversation, metadata={"topic": "t"})


def test_the_item_is_gone(api, project):
    conversation = make_conversation(project)
    items = append_messages(conversation, 3)
    api.delete(item_url(conversation, items[1].public_id))
    assert not Item.objects.filter(conversation=conversation, public_id=items[1].public_id).exists()
    listed = api.get(items_url(conversation, order="asc")).json()["data"]
    assert [item["id"] for item in listed] == [items[0].public_id, items[2].public_id]


def test_the_positions_of_the_other_items_are_unchanged(api, project):
    conversation = make_conversation(project)
    items = append_messages(conversation, 4)
    api.delete(item_url(conversation, items[1].public_id))
    positions = dict(Item.objects.filter(conversation=conversation).values_list("public_id", "position"))
    assert positions == {items[0].public_id: 0, items[2].public_id: 2, items[3].public_id: 3}


def test_an_item_appended_afterwards_goes_at_the_end(api, project):
    conversation = make_conversation(project)
    items = append_messages(conversation, 3)
    api.delete(item_url(conversation, items[2].public_id))
    api.post(items_url(conversation), {"items": [{"role": "user", "content": "new"}]},
             format="json")
    assert Item.objects.get(conversation=conversation, text="new").position == 3


def test_the_conversation_itself_stays(api, project):
    conversation = make_conversation(project)
    item = append_messages(conversation, 1)[0]
    api.delete(item_url(conversation, item.public_id))
    assert Conversation.objects.filter(pk=conversation.pk).exists()
    assert api.get(conversation_url(conversation)).status_code == 200


def test_it_audits_the_deleted_item_id(api, project, api_key):
    conversation = make_conversation(project)
    item = append_messages(conversation, 1)[0]
    api.delete(item_url(conversation, item.public_id))
    event = AuditEvent.objects.get(action="item.delete")
    assert (event.conversation_id, event.item_ids, event.actor_api_key) == (
        conversation.public_id, [item.public_id], api_key[0]
    )


def test_it_answers_404_for_an_unknown_item(api, project):
    conversation = make_conversation(project)
    append_messages(conversation, 2)
    response = api.delete(item_url(conversation, "msg_missing"))
    error = assert_api_error(response, 404, param="item_id", code="not_found")
    assert error["message"] == f"No item found with id 'msg_missing' in conversation '{conversation.public_id}'."
    assert Item.objects.filter(conversation=conversation).count() == 2
    assert not AuditEvent.objects.filter(action="item.delete").exists()


def test_deleting_twice_answers_404_the_second_time(api, project):
    conversation = make_conversation(project)
    item = append_messages(conversation, 1)[0]
    assert api.delete(item_url(conversation, item.public_id)).status_code == 200
    response = api.delete(item_url(conversation, item.public_id))
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "item_id"


def test_it_does_not_delete_an_item_through_another_conversation(api, project):
    conversation = make_conversation(project)
    other = make_conversation(project)
    item = append_messages(other, 1)[0]
    response = api.delete(item_url(conversation, item.public_id))
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "item_id"
    assert Item.objects.filter(pk=item.pk).exists()


def test_it_answers_404_for_an_unknown_conversation(api, project):
    conversation = make_conversation(project)
    item = append_messages(conversation, 1)[0]
    response = api.delete(f"/v1/conversations/conv_missing/items/{item.public_id}")
    assert response.status_code == 404
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("conversation_id", "not_found")
    assert Item.objects.filter(pk=item.pk).exists()


def test_it_works_with_a_json_content_type_and_an_empty_body(api, project):
    conversation = make_conversation(project)
    item = append_messages(conversation, 1)[0]
    response = api.delete(item_url(conversation, item.public_id), content_type="application/json")
    assert response.status_code == 200
    assert response.json()["object"] == "conversation"
