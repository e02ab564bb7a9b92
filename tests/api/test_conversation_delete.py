import json

from conversations.models import AuditEvent, Conversation, Item
from tests.factories import append_messages, make_conversation
from tests.helpers import conversation_url


def test_it_returns_the_deleted_marker(api, project):
    conversation = make_conversation(project)
    response = api.delete(conversation_url(conversation))
    assert response.status_code == 200
    assert response.json() == {"id": conversation.public_id, "object": "conversation.deleted", "deleted": True}


def test_it_removes_the_conversation_and_its_items(api, project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "first"}])
    append_messages(conversation, 4)
    api.delete(conversation_url(conversation))
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not Item.objects.filter(conversation_id=conversation.pk).exists()


def test_it_leaves_other_conversations_and_their_items_alone(api, project):
    conversation = make_conversation(project)
    append_messages(conversation, 2)
    kept = make_conversation(project, metadata={"keep": "yes"})
    append_messages(kept, 3)
    api.delete(conversation_url(conversation))
    assert Conversation.objects.filter(pk=kept.pk).exists()
    assert Item.objects.filter(conversation=kept).count() == 3


def test_the_conversation_and_its_items_answer_404_afterwards(api, project):
    conversation = make_conversation(project)
    item = append_messages(conversation, 1)[0]
    api.delete(conversation_url(conversation))
    for response in (
        api.get(conversation_url(conversation)),
        api.delete(conversation_url(conversation)),
        api.get(f"{conversation_url(conversation)}/items"),
        api.get(f"{conversation_url(conversation)}/items/{item.public_id}"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["param"] == "conversation_id"


def test_it_audits_the_item_count_and_no_content(api, project, api_key):
    conversation = make_conversation(
        project, items=[{"role": "user", "content": "secret words"}], metadata={"owner": "private-label"}
    )
    append_messages(conversation, 2, prefix="hidden text")
    api.delete(conversation_url(conversation))
    event = AuditEvent.objects.get(action="conversation.delete")
    assert event.conversation_id == conversation.public_id
    assert event.details == {"items_deleted": 3}
    assert event.actor_api_key == api_key[0]
    stored = json.dumps([event.details, event.item_ids, event.actor_label])
    for content in ("secret words", "hidden text", "private-label"):
        assert content not in stored


def test_it_works_with_a_json_content_type_and_an_empty_body(api, project):
    conversation = make_conversation(project)
    response = api.delete(conversation_url(conversation), content_type="application/json")
    assert response.status_code == 200
    assert response.json()["deleted"] is True


def test_it_answers_404_for_an_unknown_conversation(api, project):
    make_conversation(project)
    response = api.delete("/v1/conversations/conv_missing")
    assert response.status_code == 404
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("conversation_id", "not_found")
    assert Conversation.objects.count() == 1
    assert not AuditEvent.objects.filter(action="conversation.delete").exists()


def test_no_audit_event_keeps_the_deleted_conversations_metadata(api, project):
    conversation = make_conversation(project, metadata={"email": "jane@example.com"})
    api.post(conversation_url(conversation), {"metadata": {"email": "john@example.com"}}, format="json")
    api.delete(conversation_url(conversation))
    events = AuditEvent.objects.filter(conversation_id=conversation.public_id)
    assert [event.action for event in events.order_by("id")] == [
        "conversation.create", "conversation.update", "conversation.delete"
    ]
    stored = json.dumps([[event.details, event.item_ids] for event in events])
    assert "jane@example.com" not in stored
    assert "john@example.com" not in stored
