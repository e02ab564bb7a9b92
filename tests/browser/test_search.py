"""The search page in a real browser: metadata chips, live text search, a shareable URL."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import query_of
from tests.factories import make_conversation

pytestmark = pytest.mark.browser


@pytest.fixture
def support_conversations(project):
    """Three conversations: two of user_123 (one about a refund), one of user_456."""
    refund = make_conversation(project, metadata={"user_id": "user_123", "channel": "email"},
                               items=[{"role": "user", "content": "Where is my refund?"}])
    password = make_conversation(project, metadata={"user_id": "user_456"},
                                 items=[{"role": "user", "content": "Please reset my password"}])
    address = make_conversation(project, metadata={"user_id": "user_123"},
                                items=[{"role": "user", "content": "Change my billing address"}])
    return {"refund": refund.public_id, "password": password.public_id, "address": address.public_id}


def listed(page) -> set[str]:
    """The conversation ids in the results table."""
    return set(page.locator("#results tbody a.mono").all_inner_texts())


def expect_listed(page, ids: set[str]) -> None:
    """Wait until the results list exactly these conversations (results are swapped in live)."""
    for conversation_id in ids:
        expect(page.locator("#results tbody a.mono", has_text=conversation_id)).to_have_count(1)
    expect(page.locator("#results tbody a.mono")).to_have_count(len(ids))
    assert listed(page) == ids


def test_logging_in_through_the_form_lands_on_the_search_page(console, viewer, support_conversations):
    page = console.page
    console.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    page.get_by_label("Username").fill("vera")
    page.get_by_label("Password").fill("not her password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("didn't match")

    console.log_in(viewer)
    expect(page.get_by_role("heading", name="Conversations")).to_be_visible()
    expect_listed(page, set(support_conversations.values()))


def test_a_metadata_filter_becomes_a_chip_and_narrows_the_results(console, viewer, support_conversations):
    page = console.page
    console.log_in(viewer)
    expect_listed(page, set(support_conversations.values()))

    page.get_by_label("Metadata filter").fill("user_id=user_123")
    page.get_by_label("Metadata filter").press("Enter")

    expect(page.locator(".chip")).to_have_count(1)
    expect(page.locator(".chip")).to_contain_text("user_id=user_123")
    expect_listed(page, {support_conversations["refund"], support_conversations["address"]})
    assert query_of(page.url) == {"metadata[user_id]": ["user_123"]}

    # A second chip ANDs with the first.
    page.get_by_label("Metadata filter").fill("channel=email")
    page.get_by_label("Metadata filter").press("Enter")
    expect(page.locator(".chip")).to_have_count(2)
    expect_listed(page, {support_conversations["refund"]})

    # Removing a chip widens the search again.
    page.locator(".chip", has_text="channel=email").click()
    expect(page.locator(".chip")).to_have_count(1)
    expect_listed(page, {support_conversations["refund"], support_conversations["address"]})


def test_a_filter_without_an_equals_sign_explains_the_syntax(console, viewer, support_conversations):
    page = console.page
    console.log_in(viewer)
    page.get_by_label("Metadata filter").fill("user_123")
    page.get_by_label("Metadata filter").press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("key=value")


def test_typing_in_the_text_box_updates_results_and_url_without_reloading(console, viewer, support_conversations):
    page = console.page
    console.log_in(viewer)
    page.evaluate("window.notReloaded = true")

    page.get_by_label("Text in items").fill("refund")
    expect(page).to_have_url(re.compile(r"[?&]text=refund(&|$)"))
    expect_listed(page, {support_conversations["refund"]})

    page.get_by_label("Text in items").fill("password")
    expect(page).to_have_url(re.compile(r"[?&]text=password(&|$)"))
    expect_listed(page, {support_conversations["password"]})
    assert page.evaluate("window.notReloaded") is True, "the page reloaded instead of swapping results"

    # The URL is shareable: opened afresh, it shows the same search.
    shared = page.url
    page.goto(shared)
    expect(page.get_by_label("Text in items")).to_have_value("password")
    expect_listed(page, {support_conversations["password"]})


def test_live_text_search_keeps_the_metadata_chips(console, viewer, support_conversations):
    page = console.page
    console.log_in(viewer, next_path="/?metadata%5Buser_id%5D=user_123")
    expect_listed(page, {support_conversations["refund"], support_conversations["address"]})

    page.get_by_label("Text in items").fill("billing")
    expect(page).to_have_url(re.compile(r"[?&]text=billing(&|$)"))
    assert query_of(page.url) == {"metadata[user_id]": ["user_123"], "text": ["billing"]}
    expect_listed(page, {support_conversations["address"]})
    expect(page.locator(".chip")).to_have_count(1)


def test_live_results_replace_the_results_region_instead_of_nesting_in_it(console, viewer, support_conversations):
    page = console.page
    console.log_in(viewer)
    page.get_by_label("Text in items").fill("refund")
    expect_listed(page, {support_conversations["refund"]})
    assert page.locator("[id=results]").count() == 1


def test_the_id_box_opens_the_conversation(console, viewer, support_conversations):
    page = console.page
    console.log_in(viewer)
    page.get_by_label("Id").fill(support_conversations["password"])
    page.get_by_label("Id").press("Enter")
    expect(page).to_have_url(console.url(f"/conversations/{support_conversations['password']}/"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(support_conversations["password"])


def test_slash_focuses_the_search_box(console, viewer, support_conversations):
    page = console.page
    console.log_in(viewer)
    page.locator("body").click(position={"x": 5, "y": 300})
    page.keyboard.press("/")
    expect(page.get_by_label("Text in items")).to_be_focused()
    expect(page.get_by_label("Text in items")).to_have_value("")


def test_without_javascript_the_metadata_filter_still_works(browser_no_js, viewer, support_conversations):
    page = browser_no_js.page
    browser_no_js.log_in(viewer)
    page.get_by_label("Metadata filter").fill("user_id=user_456")
    page.get_by_label("Metadata filter").press("Enter")
    expect(page.locator(".chip")).to_contain_text("user_id=user_456")
    expect_listed(page, {support_conversations["password"]})


def test_going_back_restores_the_previous_search_in_the_form_too(console, viewer, support_conversations):
    page = console.page
    console.log_in(viewer)
    page.get_by_label("Text in items").fill("refund")
    expect_listed(page, {support_conversations["refund"]})
    page.get_by_label("Text in items").fill("password")
    expect_listed(page, {support_conversations["password"]})

    page.go_back()
    expect(page).to_have_url(re.compile(r"[?&]text=refund(&|$)"))
    expect_listed(page, {support_conversations["refund"]})
    assert page.get_by_label("Text in items").input_value() == "refund"


def test_more_results_load_below_the_first_page(console, viewer, project):
    ids = {make_conversation(project, metadata={"n": str(n)}).public_id for n in range(30)}
    page = console.page
    console.log_in(viewer)
    expect(page.locator("#results tbody a.mono")).to_have_count(25)

    page.get_by_role("link", name="More results").click()
    expect_listed(page, ids)
    expect(page.get_by_role("link", name="More results")).to_have_count(0)


def test_a_failed_live_search_says_so_instead_of_doing_nothing(console, viewer, support_conversations):
    page = console.page
    console.log_in(viewer)
    # The database restarting, as the browser sees it: the next search answers 503.
    page.route(re.compile(r".*[?&]text=refund.*"), lambda route: route.fulfill(status=503, body="down"))
    page.get_by_label("Text in items").fill("refund")
    expect(page.get_by_role("alert")).to_contain_text("The server could not answer (503)")
    expect_listed(page, set(support_conversations.values()))  # the previous results stay
    # The failed request is logged by the browser and by htmx: expected here, and only that.
    assert console.errors and all("503" in error or "Response Status Error" in error for error in console.errors)
    console.errors.clear()
