from conversations.models import AuditEvent
from tests.factories import append_messages, make_conversation
from tests.helpers import conversation_json


def test_it_returns_the_conversation(api, project):
    conversation = make_conversation(project, metadata={"topic": "billing"})
    response = api.get(f"/v1/conversations/{conversation.public_id}")
    assert response.status_code == 200
    assert response.json() == conversation_json(conversation, metadata={"topic": "billing"})


def test_it_returns_empty_metadata_when_none_was_set(api, project):
    conversation = make_conversation(project)
    assert api.get(f"/v1/conversations/{conversation.public_id}").json()["metadata"] == {}


def test_it_does_not_embed_the_items(api, project):
    conversation = make_conversation(project)
    append_messages(conversation, 3)
    body = api.get(f"/v1/conversations/{conversation.public_id}").json()
    assert set(body) == {"id", "object", "created_at", "metadata"}


def test_it_answers_404_for_an_unknown_conversation(api, project):
    response = api.get("/v1/conversations/conv_missing")
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": "No conversation found with id 'conv_missing'.",
            "type": "invalid_request_error",
            "param": "conversation_id",
            "code": "not_found",
        }
    }


def test_it_answers_404_for_a_deleted_conversation(api, project):
    conversation = make_conversation(project)
    assert api.delete(f"/v1/conversations/{conversation.public_id}").status_code == 200
    response = api.get(f"/v1/conversations/{conversation.public_id}")
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "conversation_id"


def test_it_writes_no_audit_event(api, project):
    conversation = make_conversation(project)
    count = AuditEvent.objects.count()
    api.get(f"/v1/conversations/{conversation.public_id}")
    assert AuditEvent.objects.count() == count
