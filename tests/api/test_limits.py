"""Every documented limit (spec §7, §12) at its exact boundary, on every endpoint it applies to."""

import pytest

from conversations.models import Item
from tests.factories import append_messages, make_conversation
from tests.helpers import assert_api_error, row_counts


def messages(count):
    return [{"role": "user", "content": f"m{n}"} for n in range(count)]


def metadata_pairs(count):
    return {f"key{n}": f"value{n}" for n in range(count)}


@pytest.fixture
def conversation(project):
    return make_conversation(project, metadata={"original": "yes"})


# --- items per request -------------------------------------------------------------------------


def test_conversations_create_accepts_20_items(api):
    response = api.post("/v1/conversations", {"items": messages(20)}, format="json")
    assert response.status_code == 200
    assert Item.objects.filter(conversation__public_id=response.json()["id"]).count() == 20


def test_conversations_create_rejects_21_items(api, project):
    before = row_counts()
    response = api.post("/v1/conversations", {"items": messages(21)}, format="json")
    assert_api_error(response, 400, param="items", code="array_above_max_length")
    assert row_counts() == before


def test_items_create_accepts_20_items(api, conversation):
    response = api.post(f"/v1/conversations/{conversation.public_id}/items", {"items": messages(20)}, format="json")
    assert response.status_code == 200
    assert len(response.json()["data"]) == 20


def test_items_create_rejects_21_items(api, conversation):
    before = row_counts()
    response = api.post(f"/v1/conversations/{conversation.public_id}/items", {"items": messages(21)}, format="json")
    assert_api_error(response, 400, param="items", code="array_above_max_length")
    assert row_counts() == before


def test_a_conversation_may_grow_past_20_items_over_several_requests(api, conversation):
    append_messages(conversation, 20)
    response = api.post(f"/v1/conversations/{conversation.public_id}/items", {"items": messages(20)}, format="json")
    assert response.status_code == 200
    assert Item.objects.filter(conversation=conversation).count() == 40


# --- metadata: create and update share every rule -----------------------------------------------


def create(api, conversation, metadata):
    return api.post("/v1/conversations", {"metadata": metadata}, format="json")


def update(api, conversation, metadata):
    return api.post(f"/v1/conversations/{conversation.public_id}", {"metadata": metadata}, format="json")


WRITES = pytest.mark.parametrize("write", [create, update], ids=["create", "update"])


@WRITES
def test_it_accepts_16_metadata_pairs(api, conversation, write):
    response = write(api, conversation, metadata_pairs(16))
    assert response.status_code == 200
    assert response.json()["metadata"] == metadata_pairs(16)


@WRITES
def test_it_rejects_17_metadata_keys(api, conversation, write):
    before = row_counts()
    assert_api_error(write(api, conversation, metadata_pairs(17)), 400, param="metadata")
    assert row_counts() == before
    conversation.refresh_from_db()
    assert conversation.metadata == {"original": "yes"}


@WRITES
def test_it_accepts_a_64_character_key(api, conversation, write):
    response = write(api, conversation, {"k" * 64: "v"})
    assert response.status_code == 200
    assert response.json()["metadata"] == {"k" * 64: "v"}


@WRITES
def test_it_rejects_a_65_character_key(api, conversation, write):
    before = row_counts()
    assert_api_error(write(api, conversation, {"k" * 65: "v"}), 400, param="metadata")
    assert row_counts() == before
    conversation.refresh_from_db()
    assert conversation.metadata == {"original": "yes"}


@WRITES
def test_it_rejects_an_empty_key(api, conversation, write):
    before = row_counts()
    assert_api_error(write(api, conversation, {"": "v"}), 400, param="metadata")
    assert row_counts() == before


@WRITES
def test_it_accepts_a_512_character_value(api, conversation, write):
    response = write(api, conversation, {"k": "v" * 512})
    assert response.status_code == 200
    assert response.json()["metadata"] == {"k": "v" * 512}


@WRITES
def test_it_accepts_an_empty_value(api, conversation, write):
    response = write(api, conversation, {"k": ""})
    assert response.status_code == 200
    assert response.json()["metadata"] == {"k": ""}


@WRITES
def test_it_rejects_a_513_character_value(api, conversation, write):
    before = row_counts()
    assert_api_error(write(api, conversation, {"k": "v" * 513}), 400, param="metadata")
    assert row_counts() == before
    conversation.refresh_from_db()
    assert conversation.metadata == {"original": "yes"}


@WRITES
@pytest.mark.parametrize("value", [1, 1.5, True, None, ["a"], {"a": "b"}], ids=["int", "float", "bool", "null",
                                                                               "array", "object"])
def test_it_rejects_a_metadata_value_that_is_not_a_string(api, conversation, write, value):
    before = row_counts()
    assert_api_error(write(api, conversation, {"k": value}), 400, param="metadata", code="invalid_type")
    assert row_counts() == before
    conversation.refresh_from_db()
    assert conversation.metadata == {"original": "yes"}


def test_a_bad_metadata_on_create_writes_no_items_either(api):
    before = row_counts()
    response = api.post("/v1/conversations", {"items": messages(3), "metadata": {"k": 1}}, format="json")
    assert_api_error(response, 400, param="metadata")
    assert row_counts() == before


def test_characters_not_bytes_are_counted(api, conversation):
    response = update(api, conversation, {"é" * 64: "ü" * 512})
    assert response.status_code == 200
    assert response.json()["metadata"] == {"é" * 64: "ü" * 512}
    conversation.refresh_from_db()
    assert conversation.metadata == {"é" * 64: "ü" * 512}


# --- list parameters ----------------------------------------------------------------------------


LISTS = pytest.mark.parametrize(
    "list_url",
    [lambda c: "/v1/conversations", lambda c: f"/v1/conversations/{c.public_id}/items"],
    ids=["conversations.list", "items.list"],
)


@pytest.fixture
def many(project, conversation):
    for _ in range(100):
        make_conversation(project)
    append_messages(conversation, 101)


@LISTS
@pytest.mark.parametrize(("limit", "code"), [("0", "integer_below_min_value"), ("101", "integer_above_max_value"),
                                             ("-1", "integer_below_min_value")])
def test_it_rejects_a_limit_outside_1_to_100(api, conversation, list_url, limit, code):
    assert_api_error(api.get(f"{list_url(conversation)}?limit={limit}"), 400, param="limit", code=code)


@LISTS
@pytest.mark.parametrize("limit", ["abc", "1.5", "ten"])
def test_it_rejects_a_limit_that_is_not_an_integer(api, conversation, list_url, limit):
    assert_api_error(api.get(f"{list_url(conversation)}?limit={limit}"), 400, param="limit", code="invalid_type")


@LISTS
@pytest.mark.parametrize("limit", [1, 100])
def test_it_accepts_the_limits_1_and_100(api, conversation, many, list_url, limit):
    response = api.get(f"{list_url(conversation)}?limit={limit}")
    assert response.status_code == 200
    assert len(response.json()["data"]) == limit
    assert response.json()["has_more"] is True


@LISTS
@pytest.mark.parametrize("order", ["ASC", "up", "newest", "descending"])
def test_it_rejects_an_unknown_order(api, conversation, list_url, order):
    response = api.get(f"{list_url(conversation)}?order={order}")
    assert_api_error(response, 400, param="order", code="invalid_value")
    assert order in response.json()["error"]["message"]
