"""Every main page, as an admin: it renders, runs without JavaScript errors, and is saved as a
screenshot in test-artifacts/screenshots/ for a person to look at."""

import re

import pytest
from playwright.sync_api import expect

from conversations import services
from tests.browser.conftest import SCREENSHOTS
from tests.factories import make_api_key, make_conversation, make_project

pytestmark = pytest.mark.browser


@pytest.fixture
def rich_conversation(project, admin_user):
    """A little of everything: two projects, keys (one revoked), conversations of every kind of item."""
    globex = make_project("globex")
    make_api_key(project, name="zendesk")
    revoked, _ = make_api_key(globex, name="old")
    services.apikey_revoke(prefix=revoked.prefix, actor=services.SYSTEM)
    conversation = make_conversation(project, metadata={"user_id": "user_123", "plan": "pro"}, items=[
        {"role": "system", "content": "You are a helpful support agent."},
        {"role": "user", "content": "Where is my order #4521?"},
        {"type": "function_call", "call_id": "call_1", "name": "order_status", "arguments": '{"order": 4521}'},
        {"type": "function_call_output", "call_id": "call_1", "output": '{"status": "shipped", "eta": "tomorrow"}'},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "The order has shipped."}]},
        {"role": "assistant", "content": "It shipped today and arrives tomorrow."},
    ])
    for n in range(3):
        make_conversation(globex, metadata={"user_id": f"user_{n}"},
                          items=[{"role": "user", "content": f"Question number {n}"}])
    return conversation


def test_the_main_pages_render_without_errors(console, admin_user, rich_conversation):
    page = console.page
    console.log_in(admin_user)

    expect(page.get_by_role("heading", name="Conversations")).to_be_visible()
    expect(page.locator("#results tbody a.mono")).to_have_count(4)
    assert console.screenshot("search").exists()

    page.get_by_role("link", name=rich_conversation.public_id).click()
    expect(page.locator("#items article.item")).to_have_count(6)
    expect(page.locator("article.item-call")).to_contain_text("order_status")
    expect(page.locator("article.item-output")).to_contain_text('"status": "shipped"')
    expect(page.locator("article.item-reasoning")).to_contain_text("The order has shipped.")
    assert console.screenshot("conversation").exists()

    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    expect(page.locator("#results tbody tr", has_text="api_key.revoke")).to_have_count(1)
    assert console.screenshot("audit-log").exists()

    page.get_by_role("link", name="Overview").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.locator("svg.chart rect")).to_have_count(30)
    assert console.screenshot("overview").exists()

    page.get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    expect(page.locator("tbody tr", has_text="zendesk")).to_contain_text("active")
    expect(page.locator("tbody tr", has_text="old")).to_contain_text("revoked")
    assert console.screenshot("api-keys").exists()

    assert {path.name for path in SCREENSHOTS.glob("*.png")} >= {
        "search.png", "conversation.png", "audit-log.png", "overview.png", "api-keys.png"}


def test_an_admin_creates_an_api_key_and_sees_its_secret_once(console, admin_user, rich_conversation):
    page = console.page
    console.log_in(admin_user, next_path="/api-keys/")
    page.get_by_text("Create a key").click()
    page.locator("select[name=project]").select_option(label="acme")
    page.get_by_label("Label", exact=True).fill("crm")
    page.get_by_role("button", name="Create key").click()

    secret = page.locator("#new-secret")
    expect(secret).to_have_text(re.compile(r"^cvs_\S+$"))
    expect(page.locator("tbody tr", has_text="crm")).to_contain_text("active")
    assert services.apikey_authenticate(secret.inner_text()) is not None

    console.goto("/api-keys/")
    expect(page.locator("#new-secret")).to_have_count(0)
    expect(page.locator("tbody tr", has_text="crm")).to_have_count(1)


def test_viewers_have_no_api_keys_page(console, viewer, rich_conversation):
    page = console.page
    console.log_in(viewer)
    expect(page.get_by_role("link", name="API keys")).to_have_count(0)
    # The request shares the page's session (a navigation would log the 403 as a console error).
    assert page.request.get(console.url("/api-keys/")).status == 403
