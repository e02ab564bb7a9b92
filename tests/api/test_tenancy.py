"""Another project's conversations and items are simply not there (spec §12): every endpoint answers
exactly as it does for an id that never existed, and nothing of the other tenant changes."""

import pytest

from conversations.models import AuditEvent, Conversation, Item
from tests.factories import append_messages, make_conversation

MISSING_CONVERSATION = "conv_000000000000000000000000000000000000000000000000"
MISSING_ITEM = "msg_000000000000000000000000000000000000000000000000"


@pytest.fixture
def theirs(other_project):
    """Project "globex"'s conversation with two items."""
    conversation = make_conversation(other_project, metadata={"owner": "globex"})
    append_messages(conversation, 2, prefix="globex")
    return conversation


@pytest.fixture
def mine(project):
    conversation = make_conversation(project, metadata={"owner": "acme"})
    append_messages(conversation, 2, prefix="acme")
    return conversation


def snapshot(conversation):
    conversation.refresh_from_db()
    items = list(Item.objects.filter(conversation=conversation).order_by("position").values_list("public_id", "body"))
    return conversation.metadata, conversation.next_position, conversation.item_count, items


def call(api, endpoint, conversation_id, item_id):
    base = f"/v1/conversations/{conversation_id}"
    return {
        "retrieve": lambda: api.get(base),
        "update": lambda: api.post(base, {"metadata": {"owner": "intruder"}}, format="json"),
        "delete": lambda: api.delete(base),
        "items.create": lambda: api.post(f"{base}/items", {"items": [{"role": "user", "content": "intruder"}]},
                                         format="json"),
        "items.list": lambda: api.get(f"{base}/items"),
        "items.retrieve": lambda: api.get(f"{base}/items/{item_id}"),
        "items.delete": lambda: api.delete(f"{base}/items/{item_id}"),
    }[endpoint]()


ENDPOINTS = ["retrieve", "update", "delete", "items.create", "items.list", "items.retrieve", "items.delete"]


def same_as_missing(response, missing_response, real_id, missing_id):
    """The two 404s are identical once the ids they name are swapped."""
    assert response.status_code == missing_response.status_code == 404
    expected = missing_response.json()
    expected["error"]["message"] = expected["error"]["message"].replace(missing_id, real_id)
    assert response.json() == expected


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_another_projects_conversation_answers_like_a_missing_one(api, theirs, endpoint):
    item_id = theirs.items.first().public_id
    before, events = snapshot(theirs), AuditEvent.objects.count()
    response = call(api, endpoint, theirs.public_id, item_id)
    missing = call(api, endpoint, MISSING_CONVERSATION, item_id)
    same_as_missing(response, missing, theirs.public_id, MISSING_CONVERSATION)
    assert response.json()["error"]["param"] == "conversation_id"
    assert snapshot(theirs) == before
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize("endpoint", ["items.retrieve", "items.delete"])
def test_another_projects_item_under_my_conversation_answers_like_a_missing_one(api, mine, theirs, endpoint):
    their_item = theirs.items.first().public_id
    before, mine_before = snapshot(theirs), snapshot(mine)
    response = call(api, endpoint, mine.public_id, their_item)
    missing = call(api, endpoint, mine.public_id, MISSING_ITEM)
    same_as_missing(response, missing, their_item, MISSING_ITEM)
    assert response.json()["error"]["param"] == "item_id"
    assert snapshot(theirs) == before
    assert snapshot(mine) == mine_before


def test_the_same_client_item_id_in_both_projects_stays_separate(api, other_api, mine, theirs):
    item = {"type": "message", "id": "msg_same", "role": "user", "content": "acme's"}
    assert api.post(f"/v1/conversations/{mine.public_id}/items", {"items": [item]}, format="json").status_code == 200
    item = {**item, "content": "globex's"}
    response = other_api.post(f"/v1/conversations/{theirs.public_id}/items", {"items": [item]}, format="json")
    assert response.status_code == 200
    mine_item = api.get(f"/v1/conversations/{mine.public_id}/items/msg_same").json()
    assert mine_item["content"] == [{"type": "input_text", "text": "acme's"}]


def test_the_list_shows_only_my_conversations(api, other_api, project, other_project):
    my_ids = [make_conversation(project).public_id for _ in range(3)]
    their_ids = [make_conversation(other_project).public_id for _ in range(3)]
    listed = [c["id"] for c in api.get("/v1/conversations?limit=100").json()["data"]]
    assert listed == list(reversed(my_ids))
    listed = [c["id"] for c in other_api.get("/v1/conversations?limit=100").json()["data"]]
    assert listed == list(reversed(their_ids))


def test_a_metadata_filter_does_not_reach_another_project(api, project, other_project):
    make_conversation(other_project, metadata={"user": "u1"})
    mine = make_conversation(project, metadata={"user": "u1"}).public_id
    assert [c["id"] for c in api.get("/v1/conversations?metadata[user]=u1").json()["data"]] == [mine]


def test_another_projects_conversation_is_an_unknown_after(api, project, theirs):
    make_conversation(project)
    response = api.get(f"/v1/conversations?after={theirs.public_id}")
    missing = api.get(f"/v1/conversations?after={MISSING_CONVERSATION}")
    assert response.status_code == missing.status_code == 400
    assert response.json()["error"]["param"] == "after"
    expected = missing.json()
    expected["error"]["message"] = expected["error"]["message"].replace(MISSING_CONVERSATION, theirs.public_id)
    assert response.json() == expected


def test_another_projects_item_is_an_unknown_after_in_items_list(api, mine, theirs):
    their_item = theirs.items.first().public_id
    response = api.get(f"/v1/conversations/{mine.public_id}/items?after={their_item}")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "after"


def test_a_conversation_i_create_belongs_to_my_project_only(api, other_api, project):
    conversation_id = api.post("/v1/conversations", {"metadata": {"k": "v"}}, format="json").json()["id"]
    assert Conversation.objects.get(public_id=conversation_id).project == project
    assert other_api.get(f"/v1/conversations/{conversation_id}").status_code == 404
    assert other_api.get("/v1/conversations").json()["data"] == []


def test_the_other_tenant_still_reaches_its_own_data(other_api, theirs, api):
    for endpoint in ENDPOINTS:
        call(api, endpoint, theirs.public_id, theirs.items.first().public_id)
    assert other_api.get(f"/v1/conversations/{theirs.public_id}").json()["metadata"] == {"owner": "globex"}
    assert len(other_api.get(f"/v1/conversations/{theirs.public_id}/items").json()["data"]) == 2
