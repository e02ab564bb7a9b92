import pytest
from django.db import connection

from conversations import queries, search
from conversations.models import Conversation
from tests.factories import make_conversation

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversations(project):
    return {
        "refund": make_conversation(project, items=[
            {"role": "user", "content": "I would like a refund for my broken kettle"},
            {"role": "assistant", "content": "Sorry to hear that. The refund is on its way."},
        ]),
        "parcel": make_conversation(project, items=[{"role": "user", "content": "Where is my parcel?"}]),
        "call": make_conversation(project, items=[
            {"type": "function_call", "call_id": "c1", "name": "lookup_order", "arguments": '{"order": "kettle"}'},
        ]),
    }


def found(text: str) -> set[str]:
    return set(Conversation.objects.matching_text(text).values_list("public_id", flat=True))


def test_text_search_finds_conversations_by_a_word(conversations):
    assert found("refund") == {conversations["refund"].public_id}
    assert found("parcel") == {conversations["parcel"].public_id}
    assert found("KETTLE") == {conversations["refund"].public_id, conversations["call"].public_id}


def test_every_word_of_a_query_must_match(conversations):
    assert found("refund kettle") == {conversations["refund"].public_id}
    assert found("refund parcel") == set()


def test_function_names_and_arguments_are_searchable(conversations):
    assert conversations["call"].public_id in found("lookup_order")


@pytest.mark.parametrize("hostile", ["%", "_", "100%", "' OR 1=1 --", "a\\b", ".*", "\"", "!!!", "&|<>", "')"])
def test_hostile_search_strings_are_just_text(conversations, hostile):
    assert found(hostile) == set()


def test_punctuation_around_words_is_ignored(conversations):
    assert found("(refund)") == {conversations["refund"].public_id}


def test_rows_carry_a_highlighted_snippet_of_the_best_match(conversations):
    rows = queries.search_rows(Conversation.objects.all(), text="refund")
    row = rows.get(pk=conversations["refund"].pk)
    shown = search.snippet_for_display(row.match_snippet, "refund")
    assert f"{search.MARK_START}refund{search.MARK_END}" in shown.lower()
    assert row.match_item_id.startswith("msg_")


def test_rows_without_a_text_search_have_a_last_item_preview(conversations):
    row = queries.search_rows(Conversation.objects.all()).get(pk=conversations["refund"].pk)
    assert row.last_item_preview.startswith("Sorry to hear that")
    assert row.last_item_type == "message"


@pytest.mark.postgres_only
def test_postgres_understands_websearch_syntax_and_stems(conversations):
    assert connection.vendor == "postgresql"
    assert found("refunds") == {conversations["refund"].public_id}  # stemming
    assert found("kettle -refund") == {conversations["call"].public_id}
    assert found('"broken kettle"') == {conversations["refund"].public_id}
    assert found("parcel or refund") == {conversations["refund"].public_id, conversations["parcel"].public_id}


@pytest.mark.postgres_only
def test_rare_and_common_matches_find_the_same_conversations(conversations, monkeypatch):
    """Both PostgreSQL strategies (ids from the index, or walking conversations) agree."""
    assert search.sparse_matches("kettle") is not None  # tiny table: every word is rare
    for word in ("refund", "kettle", "parcel", "nothing-like-this"):
        from_index = found(word)
        monkeypatch.setattr(search, "SPARSE_ITEMS", -1)  # as if matches were common: walk
        monkeypatch.setattr(search, "COMMON_SHARE", -1)
        assert search.sparse_matches(word) is None
        assert found(word) == from_index
        monkeypatch.undo()


@pytest.mark.postgres_only
def test_too_many_sparse_matches_fall_back_to_the_walk(conversations, monkeypatch):
    monkeypatch.setattr(search, "SPARSE_ITEMS", 1)
    assert search.sparse_matches("kettle") is None  # two items match: over the cap
    assert found("kettle") == {conversations["refund"].public_id, conversations["call"].public_id}
