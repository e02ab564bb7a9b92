"""conversations.keyset, the one keyset pager: deep pages cost what page 1 costs on PostgreSQL.

EXPLAIN (ANALYZE, BUFFERS) of page 1 and of a page 2,900 rows in: the same index, the cursor in
the Index Cond (a lower bound, not a filter applied row by row), the same handful of blocks read.
Without the lower bound (the OR alone, as the API's pager had it) the deep newest-first page read
87 blocks and dropped 2,901 rows, against 3 blocks for page 1.
"""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from conversations import keyset, queries
from conversations.models import Conversation, Item
from tests.factories import append_messages, make_conversation

ROWS = 3000
DEEP = 2900
LIMIT = 20


def conversations_in(project, count: int) -> list[Conversation]:
    start = timezone.now() - timedelta(days=1)
    # Pairs share a creation time, so the id must break ties: the full (created_at, id) key is used.
    Conversation.objects.bulk_create(Conversation(project=project, created_at=start + timedelta(seconds=n // 2))
                                     for n in range(count))
    return list(Conversation.objects.filter(project=project).order_by("created_at", "pk"))


# -- behaviour on both databases ------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_paging_through_ties_yields_every_row_once_in_order(project, order):
    rows = conversations_in(project, 45)
    expected = rows if order == "asc" else rows[::-1]
    seen, cursor = [], None
    while True:
        page = keyset.page(Conversation.objects.filter(project=project), key=queries.CONVERSATION_KEY,
                           cursor=cursor, order=order, limit=LIMIT)
        seen += page.data
        if not page.has_more:
            break
        cursor = (page.data[-1].created_at, page.data[-1].pk)
    assert seen == expected


@pytest.mark.django_db
def test_a_page_knows_its_first_and_last_id_and_whether_more_follow(project):
    rows = conversations_in(project, 3)
    page = keyset.page(Conversation.objects.filter(project=project), key=queries.CONVERSATION_KEY, limit=2)
    assert (page.first_id, page.last_id, page.has_more) == (rows[0].public_id, rows[1].public_id, True)
    empty = keyset.page(Conversation.objects.none(), key=queries.CONVERSATION_KEY)
    assert (empty.data, empty.first_id, empty.last_id, empty.has_more) == ([], None, None, False)


# -- cost on PostgreSQL ---------------------------------------------------------------------------

def explain(queryset) -> dict:
    queryset.explain(analyze=True)  # the first run of fresh rows also sets their hint bits: not the query's cost
    plan = json.loads(queryset.explain(format="json", analyze=True, buffers=True))[0]["Plan"]
    removed = 0
    stack = [plan]
    while stack:
        node = stack.pop()
        removed += node.get("Rows Removed by Filter", 0)
        stack += node.get("Plans", [])
    return {"blocks": plan["Shared Hit Blocks"] + plan["Shared Read Blocks"], "removed": removed,
            "text": json.dumps(plan)}


@pytest.fixture
def deep_world(project, other_project):
    rows = conversations_in(project, ROWS)
    conversations_in(other_project, ROWS)  # another tenant's rows share the console's index
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE conversations_conversation")
    return rows


def page_query(queryset, key, cursor, order):
    return keyset.ordered(queryset if cursor is None else keyset.after(queryset, key, cursor, order),
                          key, order)[: LIMIT + 1]


@pytest.mark.postgres_only
@pytest.mark.django_db
@pytest.mark.parametrize(("reader", "order"), [("api list", "desc"), ("api list", "asc"), ("console", "desc"),
                                               ("export", "asc")])
def test_a_deep_conversation_page_costs_what_page_1_costs(deep_world, project, reader, order):
    scope = Conversation.objects.all() if reader == "console" else Conversation.objects.for_project(project.pk)
    ranked = deep_world if order == "asc" else deep_world[::-1]
    cursor_row = ranked[DEEP]
    cursor = (cursor_row.created_at, cursor_row.pk)
    if reader == "console":  # every project: the console's cursor sits among both tenants' rows
        cursor_row = Conversation.objects.order_by("-created_at", "-pk")[DEEP]
        cursor = (cursor_row.created_at, cursor_row.pk)
    first = explain(page_query(scope, queries.CONVERSATION_KEY, None, order))
    deep = explain(page_query(scope, queries.CONVERSATION_KEY, cursor, order))
    assert "Seq Scan" not in deep["text"], deep["text"]
    assert deep["removed"] <= LIMIT, deep["text"]  # the cursor bounds the index scan; nothing read to be dropped
    assert deep["blocks"] <= first["blocks"] + 3, (first["blocks"], deep["blocks"], deep["text"])


@pytest.mark.postgres_only
@pytest.mark.django_db
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_a_deep_item_page_costs_what_page_1_costs(project, order):
    conversation = make_conversation(project)
    items = append_messages(conversation, 600)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE conversations_item")
    ranked = items if order == "asc" else items[::-1]
    timeline = Item.objects.filter(conversation=conversation).defer("text")
    first = explain(page_query(timeline, ("position",), None, order))
    deep = explain(page_query(timeline, ("position",), (ranked[550].position,), order))
    assert "Seq Scan" not in deep["text"], deep["text"]
    assert deep["removed"] == 0, deep["text"]
    assert deep["blocks"] <= first["blocks"] + 3, (first["blocks"], deep["blocks"])
