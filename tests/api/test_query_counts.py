"""The list endpoints and items.create run a fixed number of queries, whatever the page or batch size.

Each test makes one request first, so the API key's `last_used_at` touch (at most once a minute)
is not counted.
"""

import pytest

from tests.factories import append_messages, make_conversation


@pytest.fixture
def conversation(project):
    conversation = make_conversation(project)
    append_messages(conversation, 120)
    return conversation


@pytest.fixture
def warm_api(api, project):
    api.get("/v1/conversations?limit=1")
    return api


# conversations.list: the key, the page.
CONVERSATIONS_LIST = 2
# ...plus resolving `after` to its (created_at, id).
CONVERSATIONS_LIST_AFTER = 3
# items.list: the key, the conversation, the page.
ITEMS_LIST = 3
# ...plus resolving `after` to its position.
ITEMS_LIST_AFTER = 4
# items.create: the key, the conversation, SAVEPOINT, its row lock, the id clash check, one bulk
# INSERT, the conversation's counters, the audit row, RELEASE SAVEPOINT.
ITEMS_CREATE = 9
# conversations.create: the key, SAVEPOINT, full_clean's unique check on public_id, the conversation,
# the id clash check, one bulk INSERT, the conversation's counters, the audit row, RELEASE SAVEPOINT.
CONVERSATIONS_CREATE = 9


@pytest.mark.parametrize("limit", [1, 20, 100])
def test_conversations_list_runs_a_fixed_number_of_queries(warm_api, project, django_assert_num_queries, limit):
    for n in range(120):
        make_conversation(project, metadata={"n": str(n), "team": "a"})
    with django_assert_num_queries(CONVERSATIONS_LIST):
        response = warm_api.get(f"/v1/conversations?limit={limit}")
    assert len(response.json()["data"]) == limit


@pytest.mark.parametrize("limit", [1, 20, 100])
def test_conversations_list_with_after_and_filters_runs_a_fixed_number_of_queries(
    warm_api, project, django_assert_num_queries, limit
):
    created = [make_conversation(project, metadata={"n": str(n), "team": "a"}).public_id for n in range(120)]
    with django_assert_num_queries(CONVERSATIONS_LIST_AFTER):
        response = warm_api.get(f"/v1/conversations?limit={limit}&after={created[-2]}&metadata[team]=a&order=desc")
    assert len(response.json()["data"]) == limit


@pytest.mark.parametrize("limit", [1, 20, 100])
def test_items_list_runs_a_fixed_number_of_queries(warm_api, conversation, django_assert_num_queries, limit):
    with django_assert_num_queries(ITEMS_LIST):
        response = warm_api.get(f"/v1/conversations/{conversation.public_id}/items?limit={limit}")
    assert len(response.json()["data"]) == limit


@pytest.mark.parametrize("limit", [1, 20, 100])
def test_items_list_with_after_and_include_runs_a_fixed_number_of_queries(
    warm_api, conversation, django_assert_num_queries, limit
):
    last = conversation.items.order_by("-position").first().public_id
    with django_assert_num_queries(ITEMS_LIST_AFTER):
        response = warm_api.get(
            f"/v1/conversations/{conversation.public_id}/items?limit={limit}&after={last}"
            "&include[]=reasoning.encrypted_content"
        )
    assert len(response.json()["data"]) == limit


@pytest.mark.parametrize("count", [1, 20])
def test_items_create_runs_a_fixed_number_of_queries(warm_api, project, django_assert_num_queries, count):
    conversation = make_conversation(project)
    items = [{"role": "user", "content": f"m{n}"} for n in range(count)]
    with django_assert_num_queries(ITEMS_CREATE):
        response = warm_api.post(f"/v1/conversations/{conversation.public_id}/items", {"items": items}, format="json")
    assert len(response.json()["data"]) == count


@pytest.mark.parametrize("count", [1, 20])
def test_conversations_create_runs_a_fixed_number_of_queries(warm_api, django_assert_num_queries, count):
    items = [{"role": "user", "content": f"m{n}"} for n in range(count)]
    with django_assert_num_queries(CONVERSATIONS_CREATE):
        response = warm_api.post("/v1/conversations", {"items": items}, format="json")
    assert response.status_code == 200
