"""The conversation page (/conversations/<id>/): metadata, the item timeline in either order and
page by page, every item type rendered for reading, the item permalink page, metadata edit, and
deleting items and the conversation."""

import copy
import html
import re

import pytest

from conversations import services, validators
from conversations.models import AuditEvent, Conversation, Item
from tests.conftest import ITEM_EXAMPLES
from tests.dashboard.helpers import HX
from tests.factories import append_messages, make_conversation, make_messages
from tests.helpers import console_url

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script>'


def test_anonymous_users_are_sent_to_log_in(client, project):
    conversation = make_conversation(project)
    response = client.get(console_url(conversation))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_it_shows_metadata_and_the_first_page_of_items(viewer_client, project):
    conversation = make_conversation(project, metadata={"user_id": "user_123"},
                                     items=[{"role": "user", "content": "Where is my order?"}])
    response = viewer_client.get(console_url(conversation))
    assert response.status_code == 200
    html = response.content.decode()
    assert "user_123" in html
    assert "Where is my order?" in html


def test_hostile_content_is_escaped(viewer_client, project):
    conversation = make_conversation(
        project, metadata={HOSTILE: HOSTILE},
        items=[{"role": "user", "content": HOSTILE},
               {"type": "function_call", "call_id": "c", "name": HOSTILE, "arguments": '{"a": "</pre><script>"}'}],
    )
    html = viewer_client.get(console_url(conversation)).content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "</pre><script>" not in html


def test_viewers_see_no_edit_or_delete_controls(viewer_client, project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "x"}])
    html = viewer_client.get(console_url(conversation)).content.decode()
    assert "Delete" not in html
    assert "Edit metadata" not in html


def test_operators_see_delete_controls(operator_client, project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "x"}])
    html = operator_client.get(console_url(conversation)).content.decode()
    assert "Delete conversation" in html
    assert "/delete/" in html


def test_more_items_load_as_an_htmx_fragment(viewer_client, project):
    conversation = make_conversation(project)
    rows = append_messages(conversation, 45)
    full = viewer_client.get(console_url(conversation)).content.decode()
    assert rows[29].public_id in full and rows[30].public_id not in full
    fragment = viewer_client.get(console_url(conversation), {"after": rows[29].public_id}, headers=HX)
    html = fragment.content.decode()
    assert "<html" not in html
    assert rows[30].public_id in html and rows[44].public_id in html and rows[29].public_id not in html


def test_viewer_gets_403_when_posting_a_delete(viewer_client, project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "x"}])
    item = conversation.items.get()
    response = viewer_client.post(console_url(conversation, f"items/{item.public_id}/delete/"))
    assert response.status_code == 403
    assert Item.objects.filter(pk=item.pk).exists()


def test_operator_deletes_an_item_and_it_is_audited(operator_client, operator, project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "x"}])
    item = conversation.items.get()
    response = operator_client.post(console_url(conversation, f"items/{item.public_id}/delete/"), headers=HX)
    assert response.status_code == 200
    # The item's element is swapped for nothing; the item count in the header updates out of band.
    assert response.content.decode() == '<span id="item-count" hx-swap-oob="true">0 items</span>'
    assert not Item.objects.filter(pk=item.pk).exists()
    event = AuditEvent.objects.get(action="item.delete")
    assert (event.actor_user, event.item_ids) == (operator, [item.public_id])


def test_operator_edits_metadata_with_the_apis_rules(operator_client, project):
    conversation = make_conversation(project, metadata={"a": "1"})
    response = operator_client.post(console_url(conversation, "metadata/"), {"key": ["a", "b"], "value": ["1", "2"]})
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.metadata == {"a": "1", "b": "2"}
    too_long = operator_client.post(console_url(conversation, "metadata/"), {"key": ["k" * 65], "value": ["v"]})
    assert too_long.status_code == 200
    assert "64 characters" in too_long.content.decode()
    conversation.refresh_from_db()
    assert conversation.metadata == {"a": "1", "b": "2"}


# --- timeline order and pages ---------------------------------------------------------------------

ITEM_ARTICLE = re.compile(r'<article class="item item-\w+" id="item-([^"]+)"')


def timeline(response) -> list[str]:
    """Public ids of the items a page (or a timeline fragment) shows, in order."""
    return ITEM_ARTICLE.findall(response.content.decode())


def more_items_url(response) -> str | None:
    match = re.search(r'<a href="([^"]+)" hx-get="[^"]+" hx-trigger="revealed, click"', response.content.decode())
    return html.unescape(match.group(1)) if match else None


def test_items_come_oldest_first_with_a_link_to_newest_first(viewer_client, project):
    conversation = make_conversation(project)
    rows = append_messages(conversation, 3)
    response = viewer_client.get(console_url(conversation))
    assert timeline(response) == [row.public_id for row in rows]
    assert (f'Oldest first · <a href="{console_url(conversation)}?order=desc">newest first</a>'
            in response.content.decode())


def test_newest_first_on_request_with_a_link_back_to_oldest_first(viewer_client, project):
    conversation = make_conversation(project)
    rows = append_messages(conversation, 3)
    response = viewer_client.get(console_url(conversation), {"order": "desc"})
    assert timeline(response) == [row.public_id for row in reversed(rows)]
    assert (f'Newest first · <a href="{console_url(conversation)}?order=asc">oldest first</a>'
            in response.content.decode())


def test_an_unknown_order_falls_back_to_oldest_first(viewer_client, project):
    conversation = make_conversation(project)
    rows = append_messages(conversation, 2)
    assert timeline(viewer_client.get(console_url(conversation), {"order": "sideways"})) == [r.public_id for r in rows]


def test_more_items_keep_the_newest_first_order(viewer_client, project):
    conversation = make_conversation(project)
    rows = append_messages(conversation, 45)
    newest_first = [row.public_id for row in reversed(rows)]
    first = viewer_client.get(console_url(conversation), {"order": "desc"})
    assert timeline(first) == newest_first[:30]
    link = more_items_url(first)
    assert f"after={newest_first[29]}" in link and "order=desc" in link
    fragment = viewer_client.get(link, headers=HX)
    assert "<html" not in fragment.content.decode()
    assert timeline(fragment) == newest_first[30:]
    assert more_items_url(fragment) is None


def test_the_more_items_link_works_without_javascript(viewer_client, project):
    conversation = make_conversation(project)
    rows = append_messages(conversation, 35)
    second = viewer_client.get(more_items_url(viewer_client.get(console_url(conversation))))
    assert "<html" in second.content.decode()
    assert timeline(second) == [row.public_id for row in rows[30:]]


def test_an_unknown_cursor_shows_the_first_page(viewer_client, project):
    conversation = make_conversation(project)
    rows = append_messages(conversation, 2)
    response = viewer_client.get(console_url(conversation), {"after": "msg_gone"})
    assert response.status_code == 200
    assert timeline(response) == [row.public_id for row in rows]


def test_an_empty_conversation_says_so(viewer_client, project):
    conversation = make_conversation(project)
    assert "No items." in viewer_client.get(console_url(conversation)).content.decode()


# --- the item permalink page -----------------------------------------------------------------------


def test_the_item_permalink_page_shows_that_one_item(viewer_client, project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "first question"},
                                                     {"role": "assistant", "content": "the answer"}])
    first, second = conversation.items.in_order()
    response = viewer_client.get(console_url(conversation, f"items/{second.public_id}/"))
    assert response.status_code == 200
    page = response.content.decode()
    assert timeline(response) == [second.public_id]
    assert "the answer" in page and "first question" not in page
    assert f'<a href="{console_url(conversation)}" class="mono">{conversation.public_id}</a>' in page


def test_every_item_links_to_its_permalink(viewer_client, project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "x"}])
    item = conversation.items.get()
    page = viewer_client.get(console_url(conversation)).content.decode()
    assert f'href="{console_url(conversation)}items/{item.public_id}/" title="Permalink"' in page


def test_an_unknown_item_or_another_conversations_item_is_404(viewer_client, project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "x"}])
    other = make_conversation(project, items=[{"role": "user", "content": "y"}])
    assert viewer_client.get(console_url(conversation, "items/msg_nope/")).status_code == 404
    assert viewer_client.get(console_url(conversation, f"items/{other.items.get().public_id}/")).status_code == 404


# --- every item type renders for reading ----------------------------------------------------------


def example_id(index: int) -> str:
    example = ITEM_EXAMPLES["valid_inputs"][index]
    return f"{index}-{example.get('type', 'message')}"


@pytest.mark.parametrize("index", range(len(ITEM_EXAMPLES["valid_inputs"])), ids=example_id)
def test_each_item_type_renders_on_the_timeline_and_its_permalink_page(viewer_client, project, index):
    example = copy.deepcopy(ITEM_EXAMPLES["valid_inputs"][index])
    conversation = make_conversation(project, items=[example])
    item = conversation.items.get()
    for page_url in (console_url(conversation), console_url(conversation, f"items/{item.public_id}/")):
        response = viewer_client.get(page_url)
        assert response.status_code == 200
        assert timeline(response) == [item.public_id]
        assert f'<span class="tag type">{item.type}</span>' in response.content.decode()


def test_the_page_renders_all_29_item_types_in_one_conversation(viewer_client, project):
    examples = copy.deepcopy(ITEM_EXAMPLES["valid_inputs"])
    conversation = make_conversation(project, items=examples[:20])
    services.items_append(conversation=conversation, actor=services.SYSTEM, items=examples[20:])
    first = viewer_client.get(console_url(conversation))
    rest = viewer_client.get(more_items_url(first), headers=HX)
    assert first.status_code == rest.status_code == 200
    shown = timeline(first) + timeline(rest)
    assert shown == list(conversation.items.in_order().values_list("public_id", flat=True))
    types = set(re.findall(r'<span class="tag type">([a-z_]+)</span>',
                           first.content.decode() + rest.content.decode()))
    assert len(types) == 29
    assert types == {example.get("type", "message") for example in examples}


def test_messages_show_a_role_tag_and_their_text(viewer_client, project):
    conversation = make_conversation(project, items=[{"role": "assistant", "content": "line one\nline two"}])
    page = viewer_client.get(console_url(conversation)).content.decode()
    assert '<span class="tag role role-assistant">assistant</span>' in page
    assert '<div class="text">line one<br>line two</div>' in page


def test_function_calls_show_their_name_and_pretty_json_arguments(viewer_client, project):
    conversation = make_conversation(project, items=[
        {"type": "function_call", "call_id": "call_9", "name": "get_weather", "arguments": '{"city":"Paris","days":2}'},
        {"type": "function_call_output", "call_id": "call_9", "output": '{"temp": 21}'},
    ])
    page = viewer_client.get(console_url(conversation)).content.decode()
    assert '<strong class="mono">get_weather</strong> <small class="mono">call_9</small>' in page
    assert '<pre class="json">{\n  &quot;city&quot;: &quot;Paris&quot;,\n  &quot;days&quot;: 2\n}</pre>' in page
    assert 'Output of <small class="mono">call_9</small>' in page
    assert '<pre class="json">{\n  &quot;temp&quot;: 21\n}</pre>' in page


def test_reasoning_shows_its_summaries(viewer_client, project):
    conversation = make_conversation(project, items=[
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Check the order first."}]}])
    page = viewer_client.get(console_url(conversation)).content.decode()
    assert '<p class="reasoning">Check the order first.</p>' in page


def test_images_files_and_refusals_are_shown_for_reading(viewer_client, project):
    conversation = make_conversation(project, items=[copy.deepcopy(ITEM_EXAMPLES["valid_inputs"][5]),
                                                     copy.deepcopy(ITEM_EXAMPLES["valid_inputs"][6])])
    page = viewer_client.get(console_url(conversation)).content.decode()
    assert '<a href="https://example.com/cat.png" rel="noopener noreferrer nofollow" target="_blank">' in page
    assert 'File: invoice.pdf' in page
    assert "<strong>Refusal:</strong> I can&#x27;t identify people." in page


def test_the_raw_json_is_there_on_demand(viewer_client, project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "hi"}])
    page = viewer_client.get(console_url(conversation)).content.decode()
    assert '<details class="raw"><summary>Raw JSON</summary><pre class="json">{' in page
    assert "&quot;role&quot;: &quot;user&quot;" in page


# --- metadata edit ---------------------------------------------------------------------------------


def test_the_metadata_edit_form_comes_as_an_htmx_fragment(operator_client, project):
    conversation = make_conversation(project, metadata={"user_id": "user_123"})
    response = operator_client.get(console_url(conversation, "metadata/"), headers=HX)
    assert response.status_code == 200
    fragment = response.content.decode()
    assert fragment.strip().startswith('<section id="metadata"')
    assert "<html" not in fragment
    assert f'hx-post="{console_url(conversation)}metadata/"' in fragment
    assert '<input name="key" value="user_id" aria-label="Key">' in fragment
    assert '<input name="value" value="user_123" aria-label="Value">' in fragment
    assert fragment.count('aria-label="New key"') == 2
    assert 'name="csrfmiddlewaretoken"' in fragment


def test_the_edit_link_keeps_its_href_beside_hx_get(operator_client, project):
    conversation = make_conversation(project)
    page = operator_client.get(console_url(conversation)).content.decode()
    edit = console_url(conversation, "metadata/")
    assert f'<a href="{edit}" role="button" class="secondary outline small"\n     hx-get="{edit}"' in page


def test_saving_metadata_from_htmx_answers_the_updated_fragment_and_audits(operator_client, operator, project):
    conversation = make_conversation(project, metadata={"a": "1"})
    response = operator_client.post(console_url(conversation, "metadata/"),
                                    {"key": ["a", "", "b"], "value": ["2", "", "3"]}, headers=HX)
    assert response.status_code == 200
    fragment = response.content.decode()
    assert "<html" not in fragment and "<form" not in fragment
    assert "<div><dt>a</dt><dd>2</dd></div><div><dt>b</dt><dd>3</dd></div>" in fragment
    conversation.refresh_from_db()
    assert conversation.metadata == {"a": "2", "b": "3"}
    event = AuditEvent.objects.get(action="conversation.update")
    assert (event.actor_user, event.conversation_id) == (operator, conversation.public_id)


def test_clearing_every_row_removes_all_metadata(operator_client, project):
    conversation = make_conversation(project, metadata={"a": "1"})
    operator_client.post(console_url(conversation, "metadata/"), {"key": [""], "value": [""]})
    conversation.refresh_from_db()
    assert conversation.metadata == {}


@pytest.mark.parametrize(("keys", "values", "message"), [
    (["a", "a"], ["1", "2"], "The key &#x27;a&#x27; appears twice."),
    ([""], ["orphan"], "has no key"),
    ([f"k{n}" for n in range(17)], ["v"] * 17, "at most 16 properties"),
    (["k"], ["v" * 513], "512"),
])
def test_invalid_metadata_is_refused_in_the_fragment(operator_client, project, keys, values, message):
    conversation = make_conversation(project, metadata={"a": "1"})
    response = operator_client.post(console_url(conversation, "metadata/"), {"key": keys, "value": values},
                                    headers=HX)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "<form" in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.metadata == {"a": "1"}
    assert not AuditEvent.objects.filter(action="conversation.update").exists()



def test_the_metadata_form_states_the_limits_the_domain_enforces(operator_client, project, monkeypatch):
    monkeypatch.setattr(validators, "MAX_METADATA_PAIRS", 3)
    monkeypatch.setattr(validators, "MAX_METADATA_KEY_CHARS", 10)
    conversation = make_conversation(project)
    page = operator_client.get(console_url(conversation, "metadata/")).content.decode()
    assert "At most 3 pairs; keys up to 10 characters, values up to 512." in page
    response = operator_client.post(console_url(conversation, "metadata/"),
                                    {"key": ["a", "b", "c", "d"], "value": ["1"] * 4})
    assert "at most 3 properties" in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.metadata == {}

def test_the_metadata_edit_page_without_javascript_still_shows_the_items(operator_client, project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "Where is my order?"}])
    response = operator_client.get(console_url(conversation, "metadata/"))
    page = response.content.decode()
    assert '<input name="key" value="" aria-label="New key">' in page
    assert "Where is my order?" in page and "No items." not in page


@pytest.mark.parametrize("method", ["get", "post"])
def test_viewers_get_403_on_metadata_edit(viewer_client, project, method):
    conversation = make_conversation(project, metadata={"a": "1"})
    response = getattr(viewer_client, method)(console_url(conversation, "metadata/"), {"key": ["b"], "value": ["2"]})
    assert response.status_code == 403
    conversation.refresh_from_db()
    assert conversation.metadata == {"a": "1"}


# --- delete the conversation, delete an item without JavaScript ------------------------------------


def test_deleting_a_conversation_first_asks_for_confirmation(operator_client, project):
    conversation = make_conversation(project, items=make_messages(2))
    response = operator_client.get(console_url(conversation, "delete/"))
    assert response.status_code == 200
    page = response.content.decode()
    assert f"Delete conversation {conversation.public_id}?" in page
    assert "its 2 item(s), in project acme" in page
    assert f'<a href="{console_url(conversation)}" role="button"' in page
    assert Conversation.objects.filter(pk=conversation.pk).exists()


def test_confirming_deletes_the_conversation_and_its_items_and_audits(operator_client, operator, project):
    conversation = make_conversation(project, items=make_messages(2))
    response = operator_client.post(console_url(conversation, "delete/"))
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not Item.objects.filter(conversation_id=conversation.pk).exists()
    event = AuditEvent.objects.get(action="conversation.delete")
    assert (event.actor_user, event.conversation_id, event.details) == (
        operator, conversation.public_id, {"items_deleted": 2})
    assert f"Deleted conversation {conversation.public_id}." in operator_client.get("/").content.decode()


def test_deleting_from_htmx_answers_an_hx_redirect_to_the_search(operator_client, project):
    conversation = make_conversation(project)
    response = operator_client.post(console_url(conversation, "delete/"), headers=HX)
    assert (response.status_code, response["HX-Redirect"]) == (200, "/")
    assert not Conversation.objects.filter(pk=conversation.pk).exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_viewers_get_403_on_conversation_delete(viewer_client, project, method):
    conversation = make_conversation(project)
    assert getattr(viewer_client, method)(console_url(conversation, "delete/")).status_code == 403
    assert Conversation.objects.filter(pk=conversation.pk).exists()


def test_deleting_an_item_without_javascript_confirms_then_returns_to_the_conversation(operator_client, project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "x"}])
    item = conversation.items.get()
    delete_url = console_url(conversation, f"items/{item.public_id}/delete/")
    confirm = operator_client.get(delete_url)
    assert confirm.status_code == 200
    assert f"Delete item {item.public_id}?" in confirm.content.decode()
    assert Item.objects.filter(pk=item.pk).exists()
    response = operator_client.post(delete_url)
    assert (response.status_code, response["Location"]) == (302, console_url(conversation))
    assert not Item.objects.filter(pk=item.pk).exists()
    conversation.refresh_from_db()
    assert conversation.item_count == 0


def test_deleting_an_item_that_is_already_gone_is_not_an_error(operator_client, project):
    conversation = make_conversation(project)
    response = operator_client.post(console_url(conversation, "items/msg_gone/delete/"), headers=HX)
    assert response.status_code == 200
    assert 'hx-swap-oob="true">0 items</span>' in response.content.decode()
    assert not AuditEvent.objects.filter(action="item.delete").exists()


# --- unknown conversations -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["", "metadata/", "delete/", "items/msg_1/", "items/msg_1/delete/"])
def test_an_unknown_conversation_is_404(operator_client, project, path):
    assert operator_client.get(f"/conversations/conv_nope/{path}").status_code == 404
