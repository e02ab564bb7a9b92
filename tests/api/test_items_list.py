
import pytest

from tests.factories import append_messages, make_conversation
from tests.helpers import item_url, items_url


def ids(response):
    return [item["id"] for item in response.json()["data"]]


@pytest.fixture
def five(conversation):
    """Five items, oldest first."""
    return [item.public_id for item in append_messages(conversation, 5)]


def test_it_lists_newest_first_by_default(api, conversation, five):
    response = api.get(items_url(conversation))
    assert response.status_code == 200
    body = response.json()
    assert ids(response) == list(reversed(five))
    assert (body["object"], body["first_id"], body["last_id"], body["has_more"]) == ("list", five[4], five[0], False)


def test_it_lists_oldest_first_with_order_asc(api, conversation, five):
    response = api.get(items_url(conversation, order="asc"))
    assert ids(response) == five
    assert (response.json()["first_id"], response.json()["last_id"]) == (five[0], five[4])


def test_it_lists_newest_first_with_order_desc(api, conversation, five):
    assert ids(api.get(items_url(conversation, order="desc"))) == list(reversed(five))


def test_the_items_are_the_stored_items(api, conversation):
    conversation_items = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    response = api.post(items_url(conversation), {"items": conversation_items},
                        format="json")
    created = response.json()["data"]
    assert api.get(items_url(conversation, order="asc")).json()["data"] == created


def test_after_means_older_in_the_default_order(api, conversation, five):
    response = api.get(items_url(conversation, after=five[3]))
    assert ids(response) == [five[2], five[1], five[0]]
    assert response.json()["has_more"] is False


def test_after_means_newer_in_ascending_order(api, conversation, five):
    response = api.get(items_url(conversation, after=five[1], order="asc"))
    assert ids(response) == five[2:]
    assert response.json()["has_more"] is False


def test_has_more_is_true_while_items_remain(api, conversation, five):
    body = api.get(items_url(conversation, limit=2)).json()
    assert [item["id"] for item in body["data"]] == [five[4], five[3]]
    assert (body["first_id"], body["last_id"], body["has_more"]) == (five[4], five[3], True)


def test_has_more_is_false_when_the_page_ends_exactly_at_the_last_item(api, conversation, five):
    body = api.get(items_url(conversation, limit=2, after=five[2])).json()
    assert [item["id"] for item in body["data"]] == [five[1], five[0]]
    assert body["has_more"] is False


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_following_last_id_visits_every_item_once(api, conversation, order):
    created = [item.public_id for item in append_messages(conversation, 7)]
    expected = created if order == "asc" else list(reversed(created))
    seen, query, pages = [], {"limit": 3, "order": order}, 0
    while True:
        body = api.get(items_url(conversation, **query)).json()
        pages += 1
        seen += [item["id"] for item in body["data"]]
        if not body["has_more"]:
            break
        query["after"] = body["last_id"]
    assert seen == expected
    assert pages == 3


def test_it_returns_20_by_default(api, conversation):
    created = [item.public_id for item in append_messages(conversation, 21)]
    body = api.get(items_url(conversation)).json()
    assert [item["id"] for item in body["data"]] == list(reversed(created))[:20]
    assert body["has_more"] is True


def test_it_returns_up_to_100(api, conversation):
    append_messages(conversation, 101)
    body = api.get(items_url(conversation, limit=100)).json()
    assert len(body["data"]) == 100
    assert body["has_more"] is True


def test_an_empty_conversation_gives_an_empty_page(api, conversation):
    response = api.get(items_url(conversation))
    assert response.status_code == 200
    assert response.json() == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_a_page_after_the_last_item_is_empty(api, conversation, five, order):
    last = five[-1] if order == "asc" else five[0]
    body = api.get(items_url(conversation, after=last, order=order)).json()
    assert body == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}


def test_it_rejects_an_unknown_after(api, conversation, five):
    response = api.get(items_url(conversation, after="msg_missing"))
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", "after")
    assert "msg_missing" in error["message"]


def test_it_rejects_an_after_from_another_conversation(api, project, conversation, five):
    elsewhere = make_conversation(project, items=[{"role": "user", "content": "x"}]).items.get().public_id
    response = api.get(items_url(conversation, after=elsewhere))
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "after"


@pytest.mark.parametrize(("order", "expected"), [("asc", [3, 4]), ("desc", [1, 0])])
def test_an_after_naming_a_deleted_item_continues_from_where_it_stood(api, conversation, five, order, expected):
    api.delete(item_url(conversation, five[2]))
    response = api.get(items_url(conversation, after=five[2], order=order))
    assert response.status_code == 200
    assert ids(response) == [five[n] for n in expected]


def test_an_id_deleted_then_reused_pages_from_the_live_item(api, conversation, five):
    base = f"/v1/conversations/{conversation.public_id}/items"
    api.delete(f"{base}/{five[1]}")
    api.post(base, {"items": [{"type": "message", "role": "user", "content": "again", "id": five[1]}]}, format="json")
    assert ids(api.get(items_url(conversation, after=five[1], order="asc"))) == []  # it is the newest now
    assert ids(api.get(items_url(conversation, after=five[1])))[:2] == [five[4], five[3]]


def test_a_deleted_item_of_another_conversation_is_no_cursor_here(api, project, conversation, five):
    elsewhere = make_conversation(project, items=[{"role": "user", "content": "x"}])
    gone = elsewhere.items.get().public_id
    api.delete(f"/v1/conversations/{elsewhere.public_id}/items/{gone}")
    response = api.get(items_url(conversation, after=gone))
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "after"


def test_deleted_items_leave_no_gap_in_a_page(api, conversation, five):
    api.delete(item_url(conversation, five[1]))
    body = api.get(items_url(conversation, order="asc", limit=2, after=five[0])).json()
    assert [item["id"] for item in body["data"]] == [five[2], five[3]]
    assert body["has_more"] is True


@pytest.mark.parametrize("name", ["include[]", "include"])
def test_it_accepts_include_in_both_spellings(api, conversation, five, name):
    response = api.get(items_url(conversation, **{name: "file_search_call.results"}))
    assert response.status_code == 200
    assert ids(response) == list(reversed(five))


@pytest.mark.parametrize("name", ["include[]", "include"])
def test_it_rejects_an_unknown_include_value(api, conversation, five, name):
    response = api.get(items_url(conversation, **{name: "file_search_call.everything"}))
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("include", "invalid_value")


def test_it_answers_404_for_an_unknown_conversation(api, project):
    response = api.get("/v1/conversations/conv_missing/items")
    assert response.status_code == 404
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("conversation_id", "not_found")
