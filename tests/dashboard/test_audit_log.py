"""The audit log page (/audit/): API and console writes with their actors, filters, keyset
"Older events", and the htmx partial."""

import html
import re

import pytest

from conversations import services
from conversations.models import AuditEvent
from tests.dashboard.helpers import HX, HX_HISTORY_RESTORE, login_redirect, split_location
from tests.factories import make_conversation

pytestmark = pytest.mark.django_db

URL = "/audit/"
ROW = re.compile(r'<td class="mono">([^<]*)</td>\s*<td>([a-z_]+\.[a-z]+)</td>')
OLDER = re.compile(r'<a href="([^"]+)" hx-get="[^"]+" hx-target="#results" hx-swap="outerHTML" '
                   r'hx-push-url="true">Older events</a>')


def listed_events(response) -> list[tuple[str, str]]:
    """(actor label, action) of each event the page lists, in order."""
    return ROW.findall(response.content.decode())


def older_url(response) -> str | None:
    match = OLDER.search(response.content.decode())
    return html.unescape(match.group(1)) if match else None


def make_events(count: int, **fields) -> list[AuditEvent]:
    """`count` events, oldest first, written directly (their content does not matter here)."""
    fields = {"action": "conversation.create", "actor_label": "system", **fields}
    events = [AuditEvent(conversation_id=f"conv_{n:048x}", **fields) for n in range(count)]
    AuditEvent.objects.bulk_create(events)
    return list(AuditEvent.objects.order_by("pk"))


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get(URL)
    assert (response.status_code, response["Location"]) == (302, login_redirect(URL))


def test_api_writes_and_console_writes_both_appear_with_their_actors(api, api_key, operator_client, project):
    created = api.post("/v1/conversations", {"metadata": {"user_id": "user_1"},
                                             "items": [{"role": "user", "content": "hi"}]}).json()
    api.post(f"/v1/conversations/{created['id']}/items", {"items": [{"role": "assistant", "content": "hello"}]})
    first_item = api.get(f"/v1/conversations/{created['id']}/items?order=asc").json()["data"][0]["id"]
    operator_client.post(f"/conversations/{created['id']}/metadata/", {"key": ["user_id"], "value": ["user_2"]})
    operator_client.post(f"/conversations/{created['id']}/items/{first_item}/delete/")

    response = operator_client.get(URL)
    assert response.status_code == 200
    key_label = f"api_key:{api_key[0].prefix}"
    assert listed_events(response)[:4] == [
        ("user:otto", "item.delete"),
        ("user:otto", "conversation.update"),
        (key_label, "items.create"),
        (key_label, "conversation.create"),
    ]
    page = response.content.decode()
    assert f'<a href="?conversation={created["id"]}">{created["id"]}</a>' in page
    assert first_item in page
    assert "<td>acme</td>" in page


def test_the_log_never_shows_item_content(operator_client, project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "my card number is 4111"}])
    operator_client.post(f"/conversations/{conversation.public_id}/delete/")
    assert "4111" not in operator_client.get(URL).content.decode()


def test_api_key_writes_by_the_console_are_audited_too(admin_client_, project):
    admin_client_.post("/api-keys/", {"project": project.pk, "name": "zapier"})
    prefix = AuditEvent.objects.get(action="api_key.create", actor_label="user:ada").details["prefix"]
    admin_client_.post(f"/api-keys/{prefix}/revoke/")
    assert listed_events(admin_client_.get(URL))[:2] == [("user:ada", "api_key.revoke"), ("user:ada", "api_key.create")]


def test_newest_events_come_first(viewer_client, project):
    events = make_events(3)
    page = viewer_client.get(URL).content.decode()
    positions = [page.index(event.conversation_id) for event in reversed(events)]
    assert positions == sorted(positions)


def test_an_empty_log_says_so(viewer_client):
    assert "No events." in viewer_client.get(URL).content.decode()


# --- filters ---------------------------------------------------------------------------------------


def test_filter_by_action(viewer_client, project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "x"}])
    services.conversation_delete(conversation=conversation, actor=services.SYSTEM)
    make_conversation(project)
    response = viewer_client.get(URL, {"action": "conversation.delete"})
    assert listed_events(response) == [("system", "conversation.delete")]
    assert '<option value="conversation.delete" selected>' in response.content.decode()


def test_an_unknown_action_is_ignored(viewer_client, project):
    make_events(2)
    assert len(listed_events(viewer_client.get(URL, {"action": "drop.tables"}))) == 2


def test_filter_by_actor_matches_part_of_the_label_ignoring_case(viewer_client, project):
    make_events(2, actor_label="user:alice")
    make_events(1, actor_label="user:bob")
    make_events(1, actor_label="api_key:cvs_ALICEabc")
    response = viewer_client.get(URL, {"actor": " Alice "})
    assert sorted(label for label, _ in listed_events(response)) == ["api_key:cvs_ALICEabc", "user:alice", "user:alice"]
    assert 'name="actor" value="Alice"' in response.content.decode()


def test_filter_by_conversation(viewer_client, project):
    conversation = make_conversation(project)
    services.conversation_update(conversation=conversation, actor=services.SYSTEM, metadata={"a": "1"})
    make_conversation(project)
    response = viewer_client.get(URL, {"conversation": conversation.public_id})
    assert listed_events(response) == [("system", "conversation.update"), ("system", "conversation.create")]
    assert f'name="conversation" value="{conversation.public_id}"' in response.content.decode()


def test_filters_combine(viewer_client, project):
    conversation = make_conversation(project)
    services.conversation_update(conversation=conversation, actor=services.SYSTEM, metadata={"a": "1"})
    response = viewer_client.get(URL, {"conversation": conversation.public_id, "action": "conversation.update",
                                       "actor": "system"})
    assert listed_events(response) == [("system", "conversation.update")]


def test_the_conversation_page_links_to_its_history(viewer_client, project):
    conversation = make_conversation(project)
    page = viewer_client.get(f"/conversations/{conversation.public_id}/").content.decode()
    assert f'<a href="{URL}?conversation={conversation.public_id}">history</a>' in page


# --- keyset pages ----------------------------------------------------------------------------------


def test_older_events_come_page_by_page(viewer_client, project):
    events = make_events(60)
    first = viewer_client.get(URL)
    assert len(listed_events(first)) == 50
    assert events[-1].conversation_id in first.content.decode()
    assert events[9].conversation_id not in first.content.decode()
    path, query = split_location(older_url(first))
    assert (path, query["after"]) == (URL, str(events[10].pk))
    second = viewer_client.get(older_url(first))
    assert len(listed_events(second)) == 10
    assert all(event.conversation_id in second.content.decode() for event in events[:10])
    assert events[10].conversation_id not in second.content.decode()
    assert older_url(second) is None


def test_older_events_keep_the_filters(viewer_client, project):
    make_events(55, actor_label="user:alice")
    make_events(5, actor_label="user:bob")
    first = viewer_client.get(URL, {"actor": "alice"})
    assert split_location(older_url(first))[1]["actor"] == "alice"
    second = viewer_client.get(older_url(first))
    assert [label for label, _ in listed_events(second)] == ["user:alice"] * 5


def test_a_malformed_cursor_shows_the_newest_events(viewer_client, project):
    make_events(3)
    response = viewer_client.get(URL, {"after": "yesterday"})
    assert (response.status_code, len(listed_events(response))) == (200, 3)


# --- full page vs htmx ----------------------------------------------------------------------------


def test_a_normal_request_gets_the_full_page(viewer_client, project):
    page = viewer_client.get(URL).content.decode()
    assert "<html" in page and '<select name="action">' in page and '<section id="results">' in page


def test_an_htmx_request_gets_only_the_results_section(viewer_client, project):
    make_events(60)
    response = viewer_client.get(URL, {"actor": "system"}, headers=HX)
    fragment = response.content.decode()
    assert fragment.strip().startswith('<section id="results">')
    assert "<html" not in fragment and "<select" not in fragment
    assert len(listed_events(response)) == 50
    older = viewer_client.get(older_url(response), headers=HX)
    assert older.content.decode().strip().startswith('<section id="results">')
    assert len(listed_events(older)) == 10


def test_a_history_restore_request_gets_the_full_page(viewer_client, project):
    page = viewer_client.get(URL, {"actor": "x"}, headers=HX_HISTORY_RESTORE).content.decode()
    assert "<html" in page and '<select name="action">' in page


def test_the_response_varies_on_hx_request(viewer_client, project):
    assert "HX-Request" in viewer_client.get(URL).get("Vary", "")


@pytest.mark.parametrize("after", ["9" * 30, "-3", "0"])
def test_a_cursor_no_event_id_can_hold_shows_the_newest_events(viewer_client, project, after):
    make_events(3)
    response = viewer_client.get(URL, {"after": after})
    assert (response.status_code, len(listed_events(response))) == (200, 3)

