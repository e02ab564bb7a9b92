"""The hot queries can be served by their indexes on PostgreSQL (no sequential scans).

With enable_seqscan off, the planner still picks a sequential scan when no index can serve
the query, so its absence from the plan proves the index fits the query's shape.
"""

import pytest
from django.db import connection

from conversations import queries
from conversations.models import Conversation, Item
from tests.factories import append_messages, make_conversation

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db]


@pytest.fixture
def analyzed_conversation(project):
    """A conversation with metadata and five messages, the tables analysed and sequential scans
    off for the transaction: a plan can only use an index if one serves the query."""
    conversation = make_conversation(project, metadata={"user_id": "u1", "plan": "pro"})
    append_messages(conversation, 5, prefix="refund for my parcel")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE conversations_conversation")
        cursor.execute("ANALYZE conversations_item")
        cursor.execute("SET LOCAL enable_seqscan = off")
    return conversation


def plan(queryset) -> str:
    text = queryset.explain()
    assert "Seq Scan on conversations_item" not in text, text
    assert "Seq Scan on conversations_conversation" not in text, text
    assert "Index" in text, text
    return text


def test_the_item_timeline_uses_the_position_index(analyzed_conversation):
    append_messages(analyzed_conversation, 300)  # enough rows that reading in index order beats sorting
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE conversations_item")
    after = analyzed_conversation.items.order_by("position").first().public_id
    items = Item.objects.filter(conversation=analyzed_conversation).defer("text").in_order("desc")
    text = plan(items[:21])
    assert "Sort" not in text  # the (conversation, position) index delivers the order
    plan(Item.objects.filter(conversation=analyzed_conversation, public_id=after))


def test_a_projects_conversation_list_uses_the_keyset_index(analyzed_conversation, project):
    # With one project in the table either keyset index serves; both avoid a scan and a sort.
    text = plan(Conversation.objects.for_project(project.pk).order_by("-created_at", "-pk")[:21])
    assert "Sort" not in text


def test_the_console_list_uses_the_created_index(analyzed_conversation):
    text = plan(Conversation.objects.order_by("-created_at", "-pk")[:26])
    assert "conv_created" in text and "Sort" not in text


def test_metadata_containment_uses_the_gin_index(analyzed_conversation, project):
    conversations = Conversation.objects.with_metadata([("user_id", "u1")])
    assert "conv_metadata_pairs_gin" in plan(conversations)


def test_text_search_uses_the_full_text_index(analyzed_conversation):
    assert "item_search_gin" in plan(Item.objects.matching("refund"))
    plan(Conversation.objects.matching_text("refund").order_by("-created_at", "-pk")[:26])


def test_the_id_box_uses_the_item_id_index(analyzed_conversation):
    some_id = analyzed_conversation.items.first().public_id
    assert "item_public_id" in plan(Item.objects.filter(public_id=some_id))


def test_search_rows_for_a_page_scan_no_table(analyzed_conversation, project):
    rows = queries.search_rows(Conversation.objects.with_metadata([("plan", "pro")]), text="refund parcel")
    plan(rows.order_by("-created_at", "-pk")[:26])
