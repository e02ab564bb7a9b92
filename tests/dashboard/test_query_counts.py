"""Every console page runs a fixed number of queries, whatever the size of what it shows.

Each page is measured with a small and a large data set and must run exactly the same number of
queries for both. Every logged-in request starts with the same three: the session, the user, and
the user's permissions through their groups (cached for the rest of the request).
"""

import pytest
from django.db import connection

from conversations.models import AuditEvent
from tests.dashboard.helpers import HX, listed_conversations
from tests.factories import append_messages, make_api_key, make_conversation

pytestmark = pytest.mark.django_db

# Every logged-in request: the session, the user, the user's own permissions, their groups' permissions.
BASE = 4
# search: the page of conversations (project, last item and text-match snippet in the same query),
# the projects for the form's <select>.
SEARCH = BASE + 2
# ...with text, on PostgreSQL: the item table's size and the planner's estimate of matching
# items, then (rare matches) their conversations from the full-text index
# (conversations.search.sparse_matches).
TEXT = 3 if connection.vendor == "postgresql" else 0
# ...filtered by project: the chosen project is looked up to validate the choice.
SEARCH_BY_PROJECT = SEARCH + 1
# ...as htmx asks for it while typing (#results only): no form, so no projects.
SEARCH_RESULTS = BASE + 1
# ...the "More results" rows (htmx): resolving `after` to its (created_at, id), the page.
SEARCH_MORE = BASE + 2
# conversation detail: the conversation with its project, the page of items.
DETAIL = BASE + 2
# ...the next page of items (htmx): plus resolving `after` to a position.
DETAIL_MORE = DETAIL + 1
# item permalink page: the conversation with its project, the item.
ITEM = BASE + 2
# audit log: the page of events with their projects.
AUDIT_LOG = BASE + 1
# overview: projects, conversations and items (on PostgreSQL each after a look at the table's
# estimated size), conversations in the last 24 hours, conversations per day.
OVERVIEW = BASE + 5 + (2 if connection.vendor == "postgresql" else 0)
# API keys: the keys with their projects, the projects for the create form's <select>.
API_KEYS = BASE + 2

SIZES = pytest.mark.parametrize("size", ["small", "large"])


@SIZES
def test_the_search_page(operator_client, project, other_project, django_assert_num_queries, size):
    count = 5 if size == "small" else 60
    for n in range(count):
        make_conversation(project if n % 2 else other_project, metadata={"team": "a", "n": str(n)},
                          items=[{"role": "user", "content": f"refund {n}"}])
    with django_assert_num_queries(SEARCH):
        response = operator_client.get("/")
    assert len(listed_conversations(response)) == min(count, 25)
    with django_assert_num_queries(SEARCH + TEXT):
        response = operator_client.get("/", {"text": "refund", "metadata[team]": "a", "created_after": "2000-01-01"})
    assert len(listed_conversations(response)) == min(count, 25)
    assert response.content.decode().count('class="snippet"') == min(count, 25)
    with django_assert_num_queries(SEARCH_BY_PROJECT + TEXT):
        response = operator_client.get("/", {"text": "refund", "project": project.pk})
    assert response.status_code == 200
    with django_assert_num_queries(SEARCH_RESULTS + TEXT):
        response = operator_client.get("/", {"text": "refund"}, headers=HX)
    assert len(listed_conversations(response)) == min(count, 25)


def test_the_search_pages_next_rows(operator_client, project, django_assert_num_queries):
    conversations = [make_conversation(project, items=[{"role": "user", "content": "x"}]) for _ in range(60)]
    for after in (conversations[35], conversations[5]):  # a full page of 25, then the last 5
        with django_assert_num_queries(SEARCH_MORE):
            response = operator_client.get("/", {"after": after.public_id}, headers=HX)
        assert len(listed_conversations(response)) in (25, 5)


@SIZES
def test_the_conversation_page(operator_client, project, django_assert_num_queries, size):
    conversation = make_conversation(project, metadata={"a": "1"})
    rows = append_messages(conversation, 5 if size == "small" else 60)
    with django_assert_num_queries(DETAIL):
        response = operator_client.get(f"/conversations/{conversation.public_id}/")
    assert response.content.decode().count('<article class="item') == min(len(rows), 30)
    with django_assert_num_queries(DETAIL):
        operator_client.get(f"/conversations/{conversation.public_id}/", {"order": "desc"})
    with django_assert_num_queries(DETAIL_MORE):
        response = operator_client.get(f"/conversations/{conversation.public_id}/",
                                       {"after": rows[0].public_id}, headers=HX)
    assert response.status_code == 200


def test_the_item_permalink_page(viewer_client, project, django_assert_num_queries):
    conversation = make_conversation(project)
    item = append_messages(conversation, 3)[1]
    with django_assert_num_queries(ITEM):
        response = viewer_client.get(f"/conversations/{conversation.public_id}/items/{item.public_id}/")
    assert response.status_code == 200


@pytest.mark.parametrize("size", [5, 120])
def test_the_audit_log(viewer_client, project, django_assert_num_queries, size):
    AuditEvent.objects.bulk_create(
        AuditEvent(action="conversation.create", project=project, actor_label="system", conversation_id=f"conv_{n}")
        for n in range(size)
    )
    with django_assert_num_queries(AUDIT_LOG):
        response = viewer_client.get("/audit/")
    assert response.content.decode().count("<td>conversation.create</td>") == min(size, 50)
    with django_assert_num_queries(AUDIT_LOG):
        response = viewer_client.get("/audit/", {"actor": "sys", "action": "conversation.create", "after": "100000"},
                                     headers=HX)
    assert response.status_code == 200


@SIZES
def test_the_overview(viewer_client, project, django_assert_num_queries, size):
    for _ in range(1 if size == "small" else 12):
        append_messages(make_conversation(project), 5)
    with django_assert_num_queries(OVERVIEW):
        response = viewer_client.get("/overview/")
    assert response.status_code == 200


@pytest.mark.parametrize("size", [1, 10])
def test_the_api_keys_page(admin_client_, project, other_project, django_assert_num_queries, size):
    for n in range(size):
        make_api_key(project if n % 2 else other_project, name=f"key {n}")
    with django_assert_num_queries(API_KEYS):
        response = admin_client_.get("/api-keys/")
    assert response.content.decode().count("Revoke…") == size
