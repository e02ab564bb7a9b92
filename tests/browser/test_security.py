"""The console under its Content-Security-Policy, in a real browser: the policy is enforced (an inline
script does not run), and what the console needs still works: htmx, the chart, image previews. Any
CSP violation is a console error, which fails the test (see conftest.py)."""

import pytest
from playwright.sync_api import Error, expect

from tests.factories import make_conversation

pytestmark = pytest.mark.browser


def test_the_policy_is_enforced_an_inline_script_does_not_run(console, viewer, project):
    console.log_in(viewer)
    page = console.page
    with pytest.raises(Error):
        page.add_script_tag(content="window.injected = true;")
    assert page.evaluate("window.injected === undefined")
    # The browser reported the blocked script; that report is the expected outcome here.
    blocked = [e for e in console.errors if "Content Security Policy" in e]
    assert blocked
    console.errors[:] = [e for e in console.errors if e not in blocked]


def test_an_attached_image_preview_and_the_chart_render_under_the_policy(console, viewer, project, live_server):
    image_url = f"{live_server.url}/static/favicon.svg"
    conversation = make_conversation(project, items=[{"role": "user", "content": [
        {"type": "input_text", "text": "see the picture"},
        {"type": "input_image", "image_url": image_url, "detail": "auto"},
    ]}])
    console.log_in(viewer, next_path=f"/conversations/{conversation.public_id}/")
    page = console.page
    page.get_by_text("Preview").click()
    image = page.locator("article.item img")
    expect(image).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())

    page.get_by_role("link", name="Overview").click()
    expect(page.locator("svg.chart rect")).to_have_count(30)
    assert page.locator("svg.chart").bounding_box()["height"] > 50


def test_the_django_admin_works_under_the_policy(console, live_server, db):
    from django.contrib.auth.models import User

    User.objects.create_superuser("root", password="pw-root")
    page = console.page
    console.goto("/admin/login/?next=/admin/conversations/conversation/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("pw-root")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Select conversation to view")).to_be_visible()  # read-only there
    page.wait_for_load_state("networkidle")
    # The admin's pages link no favicon, so the browser asks for /favicon.ico: not a policy matter.
    console.errors[:] = [e for e in console.errors if "/favicon.ico" not in e]
    assert not [e for e in console.errors if "Content Security Policy" in e]


def test_the_api_docs_render_under_the_policy(console):
    console.goto("/api/docs/")
    expect(console.page.locator(".swagger-ui .info .title")).to_contain_text("Convoscope API")
    expect(console.page.locator(".opblock").first).to_be_visible()
    console.page.wait_for_load_state("networkidle")
