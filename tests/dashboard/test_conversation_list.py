"""The search page (/): metadata chips, the id and meta boxes, text, project and dates, keyset
"More results", the htmx partials, and bulk delete."""

import html
import re
from datetime import UTC, datetime

import pytest

from conversations import services
from conversations.models import AuditEvent, Conversation, Item
from tests.dashboard.helpers import (
    HX,
    HX_HISTORY_RESTORE,
    listed_conversations,
    login_redirect,
    split_location,
)
from tests.factories import make_conversation

pytestmark = pytest.mark.django_db

URL = "/"
BULK_DELETE = "/conversations/delete/"
MORE_LINK = re.compile(r'<a href="([^"]+)" hx-get="([^"]+)"[^>]*>More results</a>')


def more_url(response) -> str | None:
    match = MORE_LINK.search(response.content.decode())
    return html.unescape(match.group(1)) if match else None


def created(conversation, when: datetime):
    Conversation.objects.filter(pk=conversation.pk).update(created_at=when)
    return conversation


# --- access ---------------------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"] == login_redirect(URL)


def test_it_lists_every_projects_conversations_newest_first(viewer_client, project, other_project):
    first = make_conversation(project)
    second = make_conversation(other_project)
    third = make_conversation(project)
    response = viewer_client.get(URL)
    assert response.status_code == 200
    assert listed_conversations(response) == [third.public_id, second.public_id, first.public_id]


def test_each_row_shows_project_metadata_item_count_and_last_item(viewer_client, project):
    make_conversation(project, metadata={"user_id": "user_123"}, items=[
        {"role": "user", "content": "first words"}, {"role": "assistant", "content": "last words"}])
    page = viewer_client.get(URL).content.decode()
    assert "<td>acme</td>" in page
    assert "user_id=user_123" in page
    assert "<td>2</td>" in page
    assert "last words" in page and "first words" not in page


# --- metadata chips and the meta box ---------------------------------------------------------------


def test_metadata_chips_are_anded(viewer_client, project):
    both = make_conversation(project, metadata={"team": "a", "tier": "gold"})
    make_conversation(project, metadata={"team": "a", "tier": "free"})
    make_conversation(project, metadata={"team": "b", "tier": "gold"})
    response = viewer_client.get(URL, {"metadata[team]": "a", "metadata[tier]": "gold"})
    assert listed_conversations(response) == [both.public_id]


def test_each_chip_links_to_the_same_search_without_it(viewer_client, project):
    response = viewer_client.get(URL, {"metadata[team]": "a", "metadata[tier]": "gold", "text": "refund"})
    chips = re.findall(r'<a class="chip" href="([^"]+)"[^>]*>([^<]*)<', response.content.decode())
    assert [label.strip() for _, label in chips] == ["team=a", "tier=gold"]
    path, query = split_location(html.unescape(chips[0][0]))
    assert path == URL
    assert dict(query) == {"metadata[tier]": ["gold"], "text": ["refund"]}


def test_chips_stay_in_the_search_form_as_hidden_inputs(viewer_client, project):
    page = viewer_client.get(URL, {"metadata[team]": "a"}).content.decode()
    assert '<input type="hidden" name="metadata[team]" value="a">' in page


def test_the_meta_box_adds_a_metadata_filter_to_the_url(viewer_client, project):
    response = viewer_client.get(URL, {"text": "refund", "metadata[tier]": "gold", "meta": " team = a ", "after": "x"})
    assert response.status_code == 302
    path, query = split_location(response["Location"])
    assert path == URL
    # The cursor is dropped: page 1 of the narrower search.
    assert dict(query) == {"text": ["refund"], "metadata[tier]": ["gold"], "metadata[team]": ["a"]}


def test_the_meta_box_keeps_an_equals_sign_in_the_value(viewer_client, project):
    response = viewer_client.get(URL, {"meta": "query=a=b"})
    assert split_location(response["Location"])[1].getlist("metadata[query]") == ["a=b"]


def test_the_meta_box_answers_htmx_with_an_hx_redirect(viewer_client, project):
    response = viewer_client.get(URL, {"meta": "team=a"}, headers=HX)
    assert response.status_code == 200
    path, query = split_location(response["HX-Redirect"])
    assert (path, dict(query)) == (URL, {"metadata[team]": ["a"]})


def test_a_meta_box_entry_without_an_equals_sign_explains_the_format(viewer_client, project):
    response = viewer_client.get(URL, {"meta": "team"})
    assert response.status_code == 200
    assert "Write a metadata filter as key=value" in response.content.decode()


def test_an_over_long_metadata_filter_is_an_error_not_a_500(viewer_client, project):
    response = viewer_client.get(URL, {"metadata[team]": "v" * 513})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert listed_conversations(response) == []


# --- the id box ------------------------------------------------------------------------------------


def test_the_id_box_jumps_to_a_conversation(viewer_client, project):
    conversation = make_conversation(project)
    response = viewer_client.get(URL, {"id": f"  {conversation.public_id} "})
    assert response.status_code == 302
    assert response["Location"] == f"/conversations/{conversation.public_id}/"


def test_the_id_box_jumps_to_an_items_permalink_page(viewer_client, project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "x"}])
    item = conversation.items.get()
    response = viewer_client.get(URL, {"id": item.public_id})
    assert response.status_code == 302
    assert response["Location"] == f"/conversations/{conversation.public_id}/items/{item.public_id}/"


def test_the_id_box_answers_htmx_with_an_hx_redirect(viewer_client, project):
    conversation = make_conversation(project)
    response = viewer_client.get(URL, {"id": conversation.public_id}, headers=HX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/conversations/{conversation.public_id}/"


def test_an_unknown_id_shows_an_error(viewer_client, project):
    response = viewer_client.get(URL, {"id": "conv_nope"})
    assert response.status_code == 200
    assert "No conversation or item has the id “conv_nope”." in response.content.decode()


def test_an_unknown_id_from_htmx_shows_the_error_in_the_results(viewer_client, project):
    response = viewer_client.get(URL, {"id": "conv_nope"}, headers=HX)
    assert response.status_code == 200
    assert "HX-Redirect" not in response
    assert "conv_nope" in response.content.decode()


# --- text, project, dates ------------------------------------------------------------------------


def test_text_search_finds_conversations_by_item_text_ignoring_case(viewer_client, project):
    hit = make_conversation(project, items=[{"role": "user", "content": "I want a Refund please"}])
    make_conversation(project, items=[{"role": "user", "content": "Where is my order?"}])
    response = viewer_client.get(URL, {"text": "refund"})
    assert listed_conversations(response) == [hit.public_id]
    assert 'name="text" class="live" data-search-box value="refund"' in response.content.decode()


def test_text_search_combines_with_metadata_chips(viewer_client, project):
    hit = make_conversation(project, metadata={"team": "a"}, items=[{"role": "user", "content": "refund"}])
    make_conversation(project, metadata={"team": "b"}, items=[{"role": "user", "content": "refund"}])
    make_conversation(project, metadata={"team": "a"}, items=[{"role": "user", "content": "order"}])
    response = viewer_client.get(URL, {"text": "refund", "metadata[team]": "a"})
    assert listed_conversations(response) == [hit.public_id]


def test_the_project_filter(viewer_client, project, other_project):
    make_conversation(project)
    theirs = make_conversation(other_project)
    response = viewer_client.get(URL, {"project": other_project.pk})
    assert listed_conversations(response) == [theirs.public_id]
    assert f'<option value="{other_project.pk}" selected>globex</option>' in response.content.decode()


def test_an_unknown_project_is_an_error_not_a_500(viewer_client, project):
    response = viewer_client.get(URL, {"project": "999999"})
    assert response.status_code == 200
    assert "Invalid &#x27;project&#x27;" in response.content.decode()


def test_the_date_range_includes_its_first_day_and_excludes_its_last(viewer_client, project):
    created(make_conversation(project), datetime(2024, 1, 31, 23, 59, tzinfo=UTC))
    first_day = created(make_conversation(project), datetime(2024, 2, 1, 0, 0, tzinfo=UTC))
    inside = created(make_conversation(project), datetime(2024, 2, 15, 12, 0, tzinfo=UTC))
    created(make_conversation(project), datetime(2024, 3, 1, 0, 0, tzinfo=UTC))
    response = viewer_client.get(URL, {"created_after": "2024-02-01", "created_before": "2024-03-01"})
    assert listed_conversations(response) == [inside.public_id, first_day.public_id]
    page = response.content.decode()
    assert 'name="created_after" class="on-change" value="2024-02-01"' in page
    assert 'name="created_before" class="on-change" value="2024-03-01"' in page


def test_a_malformed_date_is_an_error_not_a_500(viewer_client, project):
    response = viewer_client.get(URL, {"created_after": "last tuesday"})
    assert response.status_code == 200
    assert "Invalid &#x27;created_after&#x27;" in response.content.decode()


# --- keyset pages --------------------------------------------------------------------------------


def test_a_more_results_link_leads_to_the_next_page(viewer_client, project):
    conversations = [make_conversation(project) for _ in range(30)]
    newest_first = [c.public_id for c in reversed(conversations)]
    first = viewer_client.get(URL)
    assert listed_conversations(first) == newest_first[:25]
    path, query = split_location(more_url(first))
    assert (path, query["after"]) == (URL, newest_first[24])
    second = viewer_client.get(more_url(first))
    assert listed_conversations(second) == newest_first[25:]
    assert more_url(second) is None


def test_there_is_no_more_results_link_when_everything_fits(viewer_client, project):
    for _ in range(25):
        make_conversation(project)
    response = viewer_client.get(URL)
    assert len(listed_conversations(response)) == 25
    assert more_url(response) is None


def test_the_more_results_link_keeps_the_search(viewer_client, project, other_project):
    matching = [make_conversation(project, metadata={"team": "a"}) for _ in range(27)]
    for _ in range(5):
        make_conversation(project, metadata={"team": "b"})
        make_conversation(other_project, metadata={"team": "a"})
    first = viewer_client.get(URL, {"metadata[team]": "a", "project": project.pk})
    query = split_location(more_url(first))[1]
    assert (query["metadata[team]"], query["project"]) == ("a", str(project.pk))
    second = viewer_client.get(more_url(first))
    assert listed_conversations(second) == [c.public_id for c in reversed(matching[:2])]


def test_more_results_from_htmx_answer_only_table_rows(viewer_client, project):
    conversations = [make_conversation(project) for _ in range(30)]
    url = more_url(viewer_client.get(URL))
    response = viewer_client.get(url, headers=HX)
    fragment = response.content.decode()
    assert "<html" not in fragment and "<table" not in fragment and 'id="results"' not in fragment
    assert fragment.strip().startswith("<tr>")
    assert listed_conversations(response) == [c.public_id for c in reversed(conversations[:5])]
    assert "More results" not in fragment


def test_a_cursor_naming_no_conversation_is_an_error_not_a_500(viewer_client, project):
    response = viewer_client.get(URL, {"after": "conv_never_existed"})
    assert response.status_code == 200
    assert "That page link names no conversation" in response.content.decode()
    fragment = viewer_client.get(URL, {"after": "conv_never_existed"}, headers=HX).content.decode()
    assert "That page link names no conversation" in fragment


def test_more_results_continue_after_a_conversation_deleted_meanwhile(viewer_client, project):
    conversations = [make_conversation(project) for _ in range(30)]
    url = more_url(viewer_client.get(URL))
    last_shown = conversations[5]  # the 25th newest: the first page's last row
    assert f"after={last_shown.public_id}" in url
    services.conversation_delete(conversation=last_shown, actor=services.SYSTEM)
    response = viewer_client.get(url, headers=HX)
    assert listed_conversations(response) == [c.public_id for c in reversed(conversations[:5])]


# --- full page vs htmx ----------------------------------------------------------------------------


def test_a_normal_request_gets_the_full_page(viewer_client, project):
    make_conversation(project)
    page = viewer_client.get(URL, {"text": ""}).content.decode()
    assert "<html" in page
    assert 'id="search"' in page
    assert '<section id="results"' in page


def test_an_htmx_request_gets_only_the_results_section(viewer_client, project):
    conversation = make_conversation(project)
    response = viewer_client.get(URL, {"text": ""}, headers=HX)
    fragment = response.content.decode()
    assert fragment.strip().startswith('<section id="results"')
    assert "<html" not in fragment and 'id="search"' not in fragment
    assert listed_conversations(response) == [conversation.public_id]


def test_a_history_restore_request_gets_the_full_page(viewer_client, project):
    page = viewer_client.get(URL, {"text": "x"}, headers=HX_HISTORY_RESTORE).content.decode()
    assert "<html" in page and 'id="search"' in page


def test_the_response_varies_on_hx_request(viewer_client, project):
    response = viewer_client.get(URL)
    assert "HX-Request" in response.get("Vary", "")


# --- bulk delete ---------------------------------------------------------------------------------


def test_viewers_see_no_bulk_delete_controls(viewer_client, project):
    make_conversation(project)
    page = viewer_client.get(URL).content.decode()
    assert BULK_DELETE not in page
    assert 'type="checkbox"' not in page


def test_operators_get_a_checkbox_per_row_and_a_bulk_delete_form(operator_client, project):
    conversation = make_conversation(project)
    page = operator_client.get(URL, {"metadata[team]": "a"}).content.decode()
    assert f'action="{BULK_DELETE}" id="bulk"' in page
    assert f'name="ids" value="{conversation.public_id}" form="bulk"' not in page  # filtered out
    page = operator_client.get(URL).content.decode()
    assert f'name="ids" value="{conversation.public_id}" form="bulk"' in page
    assert '<input type="hidden" name="next" value="/">' in page


def test_bulk_delete_first_asks_for_confirmation_naming_the_conversations(operator_client, project):
    a = make_conversation(project, metadata={"user_id": "user_1"}, items=[{"role": "user", "content": "x"}])
    b = make_conversation(project)
    keep = make_conversation(project)
    response = operator_client.post(BULK_DELETE, {"ids": [a.public_id, b.public_id], "next": "/?text=x"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Delete 2 conversations?" in page
    assert a.public_id in page and b.public_id in page and keep.public_id not in page
    assert "user_id=user_1" in page
    assert '<input type="hidden" name="confirm" value="yes">' in page
    assert '<input type="hidden" name="next" value="/?text=x">' in page
    assert Conversation.objects.count() == 3
    assert not AuditEvent.objects.filter(action="conversation.delete").exists()


def test_bulk_delete_with_confirmation_deletes_and_audits(operator_client, operator, project):
    a = make_conversation(project, items=[{"role": "user", "content": "x"}])
    b = make_conversation(project)
    keep = make_conversation(project)
    response = operator_client.post(
        BULK_DELETE, {"ids": [a.public_id, b.public_id, "conv_unknown"], "confirm": "yes", "next": "/?text=x"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/?text=x"
    assert list(Conversation.objects.values_list("public_id", flat=True)) == [keep.public_id]
    assert not Item.objects.filter(conversation_id=a.pk).exists()
    events = AuditEvent.objects.filter(action="conversation.delete")
    assert sorted(events.values_list("conversation_id", flat=True)) == sorted([a.public_id, b.public_id])
    assert {(e.actor_user, e.actor_label) for e in events} == {(operator, "user:otto")}
    assert "Deleted 2 conversation(s)." in operator_client.get("/").content.decode()


def test_bulk_delete_with_nothing_selected_warns_and_goes_back(operator_client, project):
    response = operator_client.post(BULK_DELETE, {"ids": ["conv_unknown"], "next": "/?text=x"}, follow=True)
    assert response.redirect_chain == [("/?text=x", 302)]
    assert "Select at least one conversation to delete." in response.content.decode()


@pytest.mark.parametrize("confirm", ["", "yes"])
def test_viewers_get_403_on_bulk_delete(viewer_client, project, confirm):
    conversation = make_conversation(project)
    response = viewer_client.post(BULK_DELETE, {"ids": [conversation.public_id], "confirm": confirm})
    assert response.status_code == 403
    assert Conversation.objects.filter(pk=conversation.pk).exists()


def test_bulk_delete_answers_405_to_get(operator_client, project):
    assert operator_client.get(BULK_DELETE).status_code == 405


EXTERNAL_NEXTS = ["https://evil.example/", "//evil.example/", "http://testserver.evil.example/", "/\\evil.example/",
                  "javascript:alert(1)"]


@pytest.mark.parametrize("next_url", EXTERNAL_NEXTS)
def test_bulk_delete_never_redirects_to_an_external_next(operator_client, project, next_url):
    conversation = make_conversation(project)
    confirm = operator_client.post(BULK_DELETE, {"ids": [conversation.public_id], "next": next_url})
    assert '<input type="hidden" name="next" value="/">' in confirm.content.decode()
    assert "evil.example" not in confirm.content.decode() and "javascript:" not in confirm.content.decode()
    response = operator_client.post(BULK_DELETE, {"ids": [conversation.public_id], "confirm": "yes", "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == "/"
