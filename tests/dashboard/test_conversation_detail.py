import pytest

from conversations.models import AuditEvent, Item
from tests.factories import append_messages, make_conversation

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script>'


def url(conversation) -> str:
    return f"/conversations/{conversation.public_id}/"


def test_anonymous_users_are_sent_to_log_in(client, project):
    conversation = make_conversation(project)
    response = client.get(url(conversation))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_it_shows_metadata_and_the_first_page_of_items(viewer_client, project):
    conversation = make_conversation(project, metadata={"user_id": "user_123"},
                                     items=[{"role": "user", "content": "Where is my order?"}])
    response = viewer_client.get(url(conversation))
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
    html = viewer_client.get(url(conversation)).content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "</pre><script>" not in html


def test_viewers_see_no_edit_or_delete_controls(viewer_client, project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "x"}])
    html = viewer_client.get(url(conversation)).content.decode()
    assert "Delete" not in html
    assert "Edit metadata" not in html


def test_operators_see_delete_controls(operator_client, project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "x"}])
    html = operator_client.get(url(conversation)).content.decode()
    assert "Delete conversation" in html
    assert "/delete/" in html


def test_more_items_load_as_an_htmx_fragment(viewer_client, project):
    conversation = make_conversation(project)
    rows = append_messages(conversation, 45)
    full = viewer_client.get(url(conversation)).content.decode()
    assert rows[29].public_id in full and rows[30].public_id not in full
    fragment = viewer_client.get(url(conversation), {"after": rows[29].public_id}, HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert "<html" not in html
    assert rows[30].public_id in html and rows[44].public_id in html and rows[29].public_id not in html


def test_viewer_gets_403_when_posting_a_delete(viewer_client, project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "x"}])
    item = conversation.items.get()
    response = viewer_client.post(f"{url(conversation)}items/{item.public_id}/delete/")
    assert response.status_code == 403
    assert Item.objects.filter(pk=item.pk).exists()


def test_operator_deletes_an_item_and_it_is_audited(operator_client, operator, project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "x"}])
    item = conversation.items.get()
    response = operator_client.post(f"{url(conversation)}items/{item.public_id}/delete/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response.content == b""
    assert not Item.objects.filter(pk=item.pk).exists()
    event = AuditEvent.objects.get(action="item.delete")
    assert (event.actor_user, event.item_ids) == (operator, [item.public_id])


def test_operator_edits_metadata_with_the_apis_rules(operator_client, project):
    conversation = make_conversation(project, metadata={"a": "1"})
    response = operator_client.post(f"{url(conversation)}metadata/", {"key": ["a", "b"], "value": ["1", "2"]})
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.metadata == {"a": "1", "b": "2"}
    too_long = operator_client.post(f"{url(conversation)}metadata/", {"key": ["k" * 65], "value": ["v"]})
    assert too_long.status_code == 200
    assert "64 characters" in too_long.content.decode()
    conversation.refresh_from_db()
    assert conversation.metadata == {"a": "1", "b": "2"}
