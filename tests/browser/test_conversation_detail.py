"""One conversation in a real browser: reading, the timeline that loads as you scroll, deleting an
item with a confirmation, roles, and hostile content shown as text."""

import re

import pytest
from playwright.sync_api import expect

from conversations.models import AuditEvent, Conversation, Item
from tests.factories import append_messages, make_conversation

pytestmark = pytest.mark.browser

HOSTILE = '<script>alert("xss")</script><img src=x onerror=alert("img")>'


def detail_path(conversation) -> str:
    return f"/conversations/{conversation.public_id}/"


def item_cards(page):
    return page.locator("#items article.item")


@pytest.fixture
def short(project):
    """A conversation of three messages with some metadata."""
    return make_conversation(project, metadata={"user_id": "user_123", "plan": "pro"}, items=[
        {"role": "user", "content": "Where is my order?"},
        {"role": "assistant", "content": "It ships tomorrow."},
        {"role": "user", "content": "Thanks!"},
    ])


def test_opening_a_conversation_from_the_results_shows_metadata_and_items(console, viewer, short):
    page = console.page
    console.log_in(viewer)
    page.get_by_role("link", name=short.public_id).click()

    expect(page).to_have_url(console.url(detail_path(short)))
    expect(page.get_by_role("heading", level=1)).to_contain_text(short.public_id)
    metadata = page.locator("#metadata dl.metadata")
    expect(metadata).to_contain_text("user_id")
    expect(metadata).to_contain_text("user_123")
    expect(item_cards(page)).to_have_count(3)
    expect(item_cards(page).nth(0)).to_contain_text("Where is my order?")
    expect(item_cards(page).nth(0).locator(".role")).to_have_text("user")
    expect(item_cards(page).nth(1).locator(".role")).to_have_text("assistant")
    # Timestamps are shown in the viewer's local time, the UTC value on hover.
    first_time = item_cards(page).nth(0).locator("time")
    expect(first_time).to_have_attribute("data-local", "1")
    expect(first_time).to_have_attribute("title", re.compile(r"UTC$"))
    expect(first_time).not_to_have_text(re.compile("UTC"))
    # Raw JSON is there on demand.
    raw = item_cards(page).nth(0).locator("details.raw")
    expect(raw.locator("pre")).not_to_be_visible()
    raw.locator("summary").click()
    expect(raw.locator("pre")).to_contain_text('"role": "user"')


def test_the_timeline_loads_more_items_as_you_scroll(console, viewer, project):
    conversation = make_conversation(project)
    append_messages(conversation, 70)
    page = console.page
    console.log_in(viewer, next_path=detail_path(conversation))

    cards = item_cards(page)
    expect(cards).to_have_count(30)
    expect(page.get_by_role("link", name="More items")).to_have_count(1)

    page.mouse.wheel(0, 100_000)  # the "More items" link is revealed: the next page loads
    expect(cards).to_have_count(60)
    page.mouse.wheel(0, 100_000)
    expect(cards).to_have_count(70)
    expect(page.get_by_role("link", name="More items")).to_have_count(0)

    # Oldest first, each item exactly once, ending with the last one appended.
    ids = cards.evaluate_all("cards => cards.map(c => c.dataset.itemId)")
    expected = list(Item.objects.filter(conversation=conversation).order_by("position")
                    .values_list("public_id", flat=True))
    assert ids == expected
    expect(cards.last).to_contain_text("message 60+ 9")


def test_an_operator_deletes_an_item_after_confirming(console, operator, short):
    page = console.page
    doomed, kept = list(Item.objects.filter(conversation=short).order_by("position"))[1:3]
    console.log_in(operator, next_path=detail_path(short))
    card = page.locator(f"#item-{doomed.public_id}")
    dialogs = []

    # Cancelling the confirmation keeps the item.
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    card.get_by_role("button", name="Delete").click()
    expect(card).to_be_visible()
    assert dialogs == [f"Delete item {doomed.public_id}? This cannot be undone."]
    assert Item.objects.filter(public_id=doomed.public_id).exists()

    # Confirming deletes it, without a page load.
    page.evaluate("window.notReloaded = true")
    page.on("dialog", lambda dialog: dialog.accept())
    card.get_by_role("button", name="Delete").click()
    expect(card).to_have_count(0)
    expect(item_cards(page)).to_have_count(2)
    expect(page.locator(f"#item-{kept.public_id}")).to_be_visible()
    assert page.evaluate("window.notReloaded") is True

    assert not Item.objects.filter(public_id=doomed.public_id).exists()
    assert Conversation.objects.get(pk=short.pk).item_count == 2
    event = AuditEvent.objects.get(action="item.delete")
    assert event.actor_label == "user:otto"
    assert event.conversation_id == short.public_id
    assert event.item_ids == [doomed.public_id]

    # The audit log shows it too.
    console.goto("/audit/")
    row = page.locator("#results tbody tr", has_text="item.delete")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("user:otto")
    expect(row).to_contain_text(doomed.public_id)
    expect(row).to_contain_text(short.public_id)


def test_without_javascript_an_operator_deletes_an_item_through_a_confirm_page(browser_no_js, operator, short):
    page = browser_no_js.page
    doomed = Item.objects.filter(conversation=short).order_by("position").first()
    browser_no_js.log_in(operator, next_path=detail_path(short))

    page.locator(f"#item-{doomed.public_id}").get_by_role("link", name="Delete…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Delete item {doomed.public_id}?")
    page.get_by_role("button", name=f"Delete item {doomed.public_id}").click()

    expect(page).to_have_url(browser_no_js.url(detail_path(short)))
    expect(page.get_by_role("status")).to_contain_text(f"Deleted item {doomed.public_id}")
    expect(page.locator(f"#item-{doomed.public_id}")).to_have_count(0)
    expect(item_cards(page)).to_have_count(2)
    assert AuditEvent.objects.filter(action="item.delete", item_ids=[doomed.public_id]).count() == 1


def test_an_operator_edits_metadata_in_place(console, operator, short):
    page = console.page
    console.log_in(operator, next_path=detail_path(short))
    page.get_by_role("button", name="Edit metadata").click()  # role=button on a link

    row = page.locator("#metadata tr").filter(has=page.locator('input[name=key][value="user_id"]'))
    row.locator("input[name=value]").fill("user_999")
    page.get_by_role("button", name="Save metadata").click()

    expect(page.locator("#metadata dl.metadata")).to_contain_text("user_999")
    expect(page.get_by_role("button", name="Save metadata")).to_have_count(0)
    assert Conversation.objects.get(pk=short.pk).metadata == {"user_id": "user_999", "plan": "pro"}
    assert AuditEvent.objects.filter(action="conversation.update", conversation_id=short.public_id).count() == 1


def test_viewers_see_no_delete_or_edit_controls(console, viewer, short):
    page = console.page
    console.log_in(viewer, next_path=detail_path(short))
    expect(item_cards(page)).to_have_count(3)

    expect(page.locator("form.delete-item")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete")).to_have_count(0)
    expect(page.get_by_role("link", name="Delete…")).to_have_count(0)
    expect(page.get_by_text("Delete conversation")).to_have_count(0)
    expect(page.get_by_text("Edit metadata")).to_have_count(0)


def test_a_script_in_a_message_is_shown_as_text(console, viewer, project):
    conversation = make_conversation(project, metadata={"note": HOSTILE}, items=[
        {"type": "function_call", "call_id": "call_1", "name": "lookup", "arguments": '{"q": "</pre>' + HOSTILE + '"}'},
        {"role": "user", "content": HOSTILE},
    ])
    page = console.page
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    console.log_in(viewer, next_path=detail_path(conversation))

    expect(item_cards(page).nth(0).locator("pre.json").first).to_contain_text("</pre>" + HOSTILE)
    expect(item_cards(page).nth(1).locator(".text")).to_have_text(HOSTILE)
    expect(page.locator("#metadata dd")).to_have_text(HOSTILE)
    assert page.locator("main script, main img[src=x]").count() == 0

    # In the search results too, including results swapped in by a live search.
    console.goto("/")
    expect(page.locator("#results td.preview")).to_contain_text("<script>")
    page.get_by_label("Text in items").fill("xss")
    expect(page.locator("#results td.preview")).to_contain_text("<script>")
    assert page.locator("main script, main img[src=x]").count() == 0
    page.wait_for_load_state("networkidle")
    assert dialogs == []
