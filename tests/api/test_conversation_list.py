from urllib.parse import urlencode

import pytest
from django.utils import timezone

from conversations.models import Conversation
from tests.factories import make_conversation


def ids(response):
    return [conversation["id"] for conversation in response.json()["data"]]


def make_conversations(project, count):
    return [make_conversation(project).public_id for _ in range(count)]


def test_it_lists_newest_first_by_default(api, project):
    created = make_conversations(project, 3)
    response = api.get("/v1/conversations")
    assert response.status_code == 200
    assert response.json() == {
        "object": "list",
        "data": [api.get(f"/v1/conversations/{public_id}").json() for public_id in reversed(created)],
        "first_id": created[2],
        "last_id": created[0],
        "has_more": False,
    }


def test_it_lists_oldest_first_with_order_asc(api, project):
    created = make_conversations(project, 3)
    response = api.get("/v1/conversations?order=asc")
    assert ids(response) == created
    assert (response.json()["first_id"], response.json()["last_id"]) == (created[0], created[2])


def test_after_means_older_in_the_default_order(api, project):
    created = make_conversations(project, 5)
    response = api.get(f"/v1/conversations?after={created[3]}")
    assert ids(response) == [created[2], created[1], created[0]]


def test_after_means_newer_in_ascending_order(api, project):
    created = make_conversations(project, 5)
    response = api.get(f"/v1/conversations?order=asc&after={created[1]}")
    assert ids(response) == created[2:]


@pytest.mark.parametrize(("order", "expected"), [("asc", [3, 4]), ("desc", [1, 0])])
def test_an_after_naming_a_deleted_conversation_continues_from_where_it_stood(api, project, order, expected):
    created = make_conversations(project, 5)
    assert api.delete(f"/v1/conversations/{created[2]}").status_code == 200
    response = api.get(f"/v1/conversations?order={order}&after={created[2]}")
    assert response.status_code == 200
    assert ids(response) == [created[n] for n in expected]


def test_the_list_and_delete_loop_reaches_the_end(api, project):
    created = make_conversations(project, 5)
    deleted, after = [], None
    while True:
        body = api.get("/v1/conversations?" + urlencode({"limit": 2} | ({"after": after} if after else {}))).json()
        for conversation in body["data"]:
            assert api.delete(f"/v1/conversations/{conversation['id']}").status_code == 200
            deleted.append(conversation["id"])
        if not body["has_more"]:
            break
        after = body["last_id"]
    assert deleted == created[::-1]


def test_another_projects_deleted_conversation_is_no_cursor(api, other_api, project, other_project):
    theirs = make_conversation(other_project).public_id
    other_api.delete(f"/v1/conversations/{theirs}")
    make_conversations(project, 2)
    response = api.get(f"/v1/conversations?after={theirs}")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "after"


def test_it_pages_through_everything_with_limit_and_after(api, project):
    created = make_conversations(project, 5)
    seen, after = [], None
    for expected_has_more in (True, True, False):
        query = {"limit": 2, "order": "asc"} | ({"after": after} if after else {})
        body = api.get(f"/v1/conversations?{urlencode(query)}").json()
        assert body["has_more"] is expected_has_more
        seen += [conversation["id"] for conversation in body["data"]]
        after = body["last_id"]
    assert seen == created


def test_has_more_is_false_when_the_page_ends_exactly_at_the_last_conversation(api, project):
    make_conversations(project, 2)
    body = api.get("/v1/conversations?limit=2").json()
    assert len(body["data"]) == 2
    assert body["has_more"] is False


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_conversations_created_in_the_same_instant_are_paged_without_gaps_or_repeats(api, project, order):
    created = make_conversations(project, 5)
    Conversation.objects.filter(project=project).update(created_at=timezone.now())
    seen, query = [], {"limit": 2, "order": order}
    while True:
        body = api.get(f"/v1/conversations?{urlencode(query)}").json()
        seen += [conversation["id"] for conversation in body["data"]]
        if not body["has_more"]:
            break
        query["after"] = body["last_id"]
    assert seen == (created if order == "asc" else list(reversed(created)))


def test_it_returns_20_by_default(api, project):
    created = make_conversations(project, 21)
    body = api.get("/v1/conversations").json()
    assert [c["id"] for c in body["data"]] == list(reversed(created))[:20]
    assert body["has_more"] is True


def test_it_returns_up_to_100(api, project):
    make_conversations(project, 101)
    body = api.get("/v1/conversations?limit=100").json()
    assert len(body["data"]) == 100
    assert body["has_more"] is True


def test_an_empty_list_has_null_ids(api, project):
    response = api.get("/v1/conversations")
    assert response.status_code == 200
    assert response.json() == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}


def test_a_page_after_the_last_conversation_is_empty(api, project):
    created = make_conversations(project, 2)
    body = api.get(f"/v1/conversations?after={created[0]}").json()
    assert body == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}


def test_it_rejects_an_unknown_after(api, project):
    make_conversations(project, 2)
    response = api.get("/v1/conversations?after=conv_missing")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", "after")
    assert "conv_missing" in error["message"]


def test_it_filters_by_a_metadata_pair(api, project):
    match = make_conversation(project, metadata={"user": "u1"}).public_id
    make_conversation(project, metadata={"user": "u2"})
    make_conversation(project)
    assert ids(api.get("/v1/conversations?metadata[user]=u1")) == [match]


def test_it_ands_metadata_filters(api, project):
    both = make_conversation(project, metadata={"user": "u1", "topic": "billing"}).public_id
    make_conversation(project, metadata={"user": "u1", "topic": "shipping"})
    make_conversation(project, metadata={"user": "u2", "topic": "billing"})
    assert ids(api.get("/v1/conversations?metadata[user]=u1&metadata[topic]=billing")) == [both]


def test_a_repeated_key_must_match_every_value(api, project):
    make_conversation(project, metadata={"user": "u1"})
    make_conversation(project, metadata={"user": "u2"})
    assert ids(api.get("/v1/conversations?metadata[user]=u1&metadata[user]=u2")) == []


def test_a_repeated_key_with_the_same_value_still_matches(api, project):
    match = make_conversation(project, metadata={"user": "u1"}).public_id
    assert ids(api.get("/v1/conversations?metadata[user]=u1&metadata[user]=u1")) == [match]


def test_a_metadata_filter_does_not_match_a_missing_key(api, project):
    make_conversation(project, metadata={"other": "u1"})
    assert ids(api.get("/v1/conversations?metadata[user]=u1")) == []


@pytest.mark.parametrize(
    "key",
    ["a__b", 'say "hi"', "a.b", "a b", "a[0]", "$.x", "user__contains", "ünï"],
    ids=["double-underscore", "quote", "dot", "space", "brackets", "json-path", "lookup-name", "unicode"],
)
def test_it_takes_a_metadata_key_with_odd_characters_literally(api, project, key):
    match = make_conversation(project, metadata={key: "yes", "a": "no"}).public_id
    make_conversation(project, metadata={key: "no"})
    make_conversation(project, metadata={"a": "yes"})
    response = api.get("/v1/conversations?" + urlencode({f"metadata[{key}]": "yes"}))
    assert response.status_code == 200
    assert ids(response) == [match]


def test_the_metadata_filter_is_exact_not_a_substring(api, project):
    make_conversation(project, metadata={"user": "u10"})
    make_conversation(project, metadata={"user": "U1"})
    assert ids(api.get("/v1/conversations?metadata[user]=u1")) == []


def test_filters_combine_with_after_and_order(api, project):
    created = [make_conversation(project, metadata={"team": "a" if n % 2 else "b"}).public_id for n in range(6)]
    team_a = [created[1], created[3], created[5]]
    response = api.get(f"/v1/conversations?metadata[team]=a&order=asc&after={team_a[0]}")
    assert ids(response) == team_a[1:]
    response = api.get(f"/v1/conversations?metadata[team]=a&after={team_a[2]}&limit=1")
    assert ids(response) == [team_a[1]]
    assert response.json()["has_more"] is True


def test_after_may_name_a_conversation_the_filter_excludes(api, project):
    created = [make_conversation(project, metadata={"team": "a" if n % 2 else "b"}).public_id for n in range(4)]
    response = api.get(f"/v1/conversations?metadata[team]=a&order=asc&after={created[0]}")
    assert ids(response) == [created[1], created[3]]


def test_it_rejects_a_metadata_filter_value_over_512_characters(api, project):
    response = api.get("/v1/conversations?" + urlencode({"metadata[k]": "v" * 513}))
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "metadata[k]"


def test_it_rejects_a_metadata_filter_with_a_nul_character(api, project):
    make_conversation(project, metadata={"k": "ab"})
    response = api.get("/v1/conversations?metadata[k]=a%00b")
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "metadata[k]"
