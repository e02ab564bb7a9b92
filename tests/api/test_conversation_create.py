import time

import pytest

from conversations.models import AuditEvent, Conversation, Item


def test_it_creates_an_empty_conversation_from_an_empty_body(api, project):
    response = api.post("/v1/conversations", {}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "conversation"
    assert body["id"].startswith("conv_") and len(body["id"]) == 5 + 48
    assert body["metadata"] == {}
    assert isinstance(body["created_at"], int)
    assert Conversation.objects.get(public_id=body["id"]).project == project
    assert response["x-request-id"].startswith("req_")


def test_it_creates_a_conversation_with_items_and_metadata(api):
    response = api.post(
        "/v1/conversations",
        {"items": [{"role": "user", "content": "hi"}], "metadata": {"user_id": "u1"}},
        format="json",
    )
    assert response.status_code == 200
    conversation = Conversation.objects.get(public_id=response.json()["id"])
    assert conversation.metadata == {"user_id": "u1"}
    item = Item.objects.get(conversation=conversation)
    assert item.body["content"] == [{"type": "input_text", "text": "hi"}]
    assert AuditEvent.objects.filter(action="conversation.create", conversation_id=conversation.public_id).exists()


def test_it_accepts_null_items_and_metadata(api):
    response = api.post("/v1/conversations", {"items": None, "metadata": None}, format="json")
    assert response.status_code == 200
    assert response.json()["metadata"] == {}


def test_it_writes_nothing_when_one_item_of_the_batch_is_bad(api):
    items = [{"role": "user", "content": "fine"}, {"role": "wizard", "content": "bad"}]
    response = api.post("/v1/conversations", {"items": items}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "items[1].role"
    assert Conversation.objects.count() == 0
    assert Item.objects.count() == 0


def test_it_creates_a_conversation_from_a_request_without_a_body(api, project):
    response = api.post("/v1/conversations", content_type="application/json")
    assert response.status_code == 200
    assert response.json()["metadata"] == {}
    assert Conversation.objects.filter(project=project).count() == 1


def test_it_returns_exactly_the_four_conversation_fields(api):
    before = int(time.time())
    response = api.post("/v1/conversations", {"items": [{"role": "user", "content": "hi"}]}, format="json")
    after = int(time.time())
    body = response.json()
    assert set(body) == {"id", "object", "created_at", "metadata"}
    assert before <= body["created_at"] <= after
    conversation = Conversation.objects.get(public_id=body["id"])
    assert body["created_at"] == int(conversation.created_at.timestamp())


def test_it_stores_the_items_in_input_order(api):
    items = [{"role": "user", "content": f"message {n}"} for n in range(5)]
    response = api.post("/v1/conversations", {"items": items}, format="json")
    conversation = Conversation.objects.get(public_id=response.json()["id"])
    stored = list(Item.objects.filter(conversation=conversation).order_by("position"))
    assert [item.body["content"][0]["text"] for item in stored] == [f"message {n}" for n in range(5)]
    assert [item.position for item in stored] == [0, 1, 2, 3, 4]


def test_its_items_are_listed_by_items_list(api):
    items = [{"role": "user", "content": "one"}, {"role": "assistant", "content": "two"}]
    conversation_id = api.post("/v1/conversations", {"items": items}, format="json").json()["id"]
    listed = api.get(f"/v1/conversations/{conversation_id}/items?order=asc").json()["data"]
    assert [item["content"] for item in listed] == [
        [{"type": "input_text", "text": "one"}],
        [{"type": "output_text", "text": "two", "annotations": []}],
    ]


def test_it_keeps_a_client_supplied_item_id(api):
    items = [{"type": "message", "id": "msg_mine", "role": "user", "content": "hi"}]
    conversation_id = api.post("/v1/conversations", {"items": items}, format="json").json()["id"]
    response = api.get(f"/v1/conversations/{conversation_id}/items/msg_mine")
    assert response.status_code == 200
    assert response.json()["id"] == "msg_mine"


def test_it_rejects_the_same_client_id_twice_in_one_batch(api):
    items = [
        {"type": "message", "id": "msg_twice", "role": "user", "content": "a"},
        {"type": "message", "id": "msg_twice", "role": "user", "content": "b"},
    ]
    response = api.post("/v1/conversations", {"items": items}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("items[1].id", "duplicate_id")
    assert Conversation.objects.count() == 0
    assert Item.objects.count() == 0


def test_it_audits_the_creation_with_the_item_ids(api, api_key):
    items = [{"type": "message", "id": "msg_a", "role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    conversation_id = api.post("/v1/conversations", {"items": items}, format="json").json()["id"]
    event = AuditEvent.objects.get(action="conversation.create", conversation_id=conversation_id)
    second_id = Item.objects.get(conversation__public_id=conversation_id, position=1).public_id
    assert event.item_ids == ["msg_a", second_id]
    assert event.actor_api_key == api_key[0]
    assert event.project == api_key[0].project


def test_it_gives_each_conversation_a_new_id(api):
    first = api.post("/v1/conversations", {}, format="json").json()["id"]
    second = api.post("/v1/conversations", {}, format="json").json()["id"]
    assert first != second


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"items": {"role": "user", "content": "hi"}}, "items", "invalid_type"),
        ({"items": "hi"}, "items", "invalid_type"),
        ({"metadata": ["a", "b"]}, "metadata", "invalid_type"),
        ({"metadata": "a=b"}, "metadata", "invalid_type"),
    ],
    ids=["items-object", "items-string", "metadata-array", "metadata-string"],
)
def test_it_rejects_items_that_are_not_an_array_and_metadata_that_is_not_an_object(api, body, param, code):
    response = api.post("/v1/conversations", body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)
    assert Conversation.objects.count() == 0
