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
