"""The audit log in a real browser: live filters that keep the URL in step."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import query_of
from tests.factories import make_conversation

pytestmark = pytest.mark.browser


@pytest.fixture
def history(project):
    """Two conversations created, one of them then updated."""
    from conversations import services

    first = make_conversation(project, metadata={"user_id": "user_1"})
    make_conversation(project)
    services.conversation_update(conversation=first, actor=services.SYSTEM, metadata={"user_id": "user_2"})
    return first


def result_rows(page):
    """The rows of the results table, as a locator for expect() to wait on."""
    return page.locator("#results tbody tr")


def test_filtering_by_action_updates_the_rows_and_the_url(console, viewer, history):
    page = console.page
    console.log_in(viewer, next_path="/audit/")
    expect(result_rows(page)).to_have_count(3)

    page.get_by_label("Action").select_option("conversation.update")
    expect(result_rows(page)).to_have_count(1)
    expect(result_rows(page)).to_contain_text("conversation.update")
    expect(page).to_have_url(re.compile(r"[?&]action=conversation.update(&|$)"))

    # The conversation link narrows the log to that conversation.
    page.get_by_role("link", name=history.public_id).click()
    expect(page).to_have_url(re.compile(r"[?&]conversation=" + history.public_id))
    assert query_of(page.url)["conversation"] == [history.public_id]


def test_filtering_replaces_the_results_region_instead_of_nesting_in_it(console, viewer, history):
    page = console.page
    console.log_in(viewer, next_path="/audit/")
    page.get_by_label("Action").select_option("conversation.create")
    expect(result_rows(page)).to_have_count(2)
    assert page.locator("[id=results]").count() == 1
