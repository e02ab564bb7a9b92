from datetime import timedelta

import pytest
from django.utils import timezone

from conversations import queries
from conversations.errors import InvalidInput, NotFound
from conversations.models import Conversation
from tests.factories import append_messages, make_conversation

pytestmark = pytest.mark.django_db


def walk(fetch, limit):
    """Follow the cursor to the end, as the SDK's auto-pagination does."""
    seen, after = [], None
    while True:
        page = fetch(after=after, limit=limit)
        seen += [row.public_id for row in page.data]
        if not page.has_more:
            return seen
        after = page.last_id


@pytest.mark.parametrize("limit", [1, 3, 7, 100])
def test_item_pages_cover_the_timeline_once_in_both_orders(project, limit):
    conversation = make_conversation(project)
    rows = [row.public_id for row in append_messages(conversation, 23)]

    def fetch(order):
        return lambda **kw: queries.item_page(conversation=conversation, order=order, **kw)

    assert walk(fetch("asc"), limit) == rows
    assert walk(fetch("desc"), limit) == rows[::-1]


def test_after_is_relative_to_the_order(project):
    conversation = make_conversation(project)
    rows = [row.public_id for row in append_messages(conversation, 5)]
    asc = queries.item_page(conversation=conversation, after=rows[1], order="asc", limit=10)
    desc = queries.item_page(conversation=conversation, after=rows[3], order="desc", limit=10)
    assert [r.public_id for r in asc.data] == rows[2:]
    assert [r.public_id for r in desc.data] == rows[:3][::-1]


def test_an_empty_page_has_no_ids(project):
    page = queries.item_page(conversation=make_conversation(project))
    assert (page.data, page.first_id, page.last_id, page.has_more) == ([], None, None, False)


def test_an_unknown_after_is_invalid(project, other_project):
    conversation = make_conversation(project)
    elsewhere = make_conversation(other_project, items=[{"role": "user", "content": "x"}])
    other_item = elsewhere.items.get().public_id
    with pytest.raises(InvalidInput) as info:
        queries.item_page(conversation=conversation, after=other_item)
    assert info.value.param == "after"


def test_conversation_pages_order_by_creation_then_id(project):
    now = timezone.now()
    made = []
    for offset in [0, 0, -5, 3, 0]:  # several share a timestamp: the id breaks the tie
        conversation = make_conversation(project)
        Conversation.objects.filter(pk=conversation.pk).update(created_at=now + timedelta(seconds=offset))
        made.append(conversation)
    expected_asc = [c.public_id for c in sorted(
        Conversation.objects.all(), key=lambda c: (c.created_at, c.pk))]
    scope = Conversation.objects.for_project(project.pk)

    def fetch(order):
        return lambda **kw: queries.conversation_page(conversations=scope, project_id=project.pk, order=order, **kw)

    for limit in (1, 2, 10):
        assert walk(fetch("asc"), limit) == expected_asc
        assert walk(fetch("desc"), limit) == expected_asc[::-1]


def test_metadata_filters_are_anded_and_take_keys_literally(project):
    a = make_conversation(project, metadata={"user_id": "u1", "plan": "pro"})
    make_conversation(project, metadata={"user_id": "u1", "plan": "free"})
    odd = make_conversation(project, metadata={'we"ird__key.$': "v"})
    scope = Conversation.objects.for_project(project.pk)
    assert list(scope.with_metadata([("user_id", "u1"), ("plan", "pro")])) == [a]
    assert list(scope.with_metadata([('we"ird__key.$', "v")])) == [odd]
    assert list(scope.with_metadata([("plan", "pro"), ("plan", "free")])) == []


def test_get_conversation_is_scoped_to_the_project(project, other_project):
    conversation = make_conversation(other_project)
    with pytest.raises(NotFound) as info:
        queries.get_conversation(project_id=project.pk, conversation_id=conversation.public_id)
    assert info.value.param == "conversation_id"
    assert conversation.public_id in info.value.message
