"""Item content, metadata, names and search input are untrusted: every console page escapes them.

One hostile world (payloads in item text, function names and arguments, outputs, reasoning,
refusals, file names, image URLs, metadata keys and values, project and key names, the user name
itself), then every page, full and htmx, is checked for the payload appearing unescaped.
"""

import json
import re
from urllib.parse import quote

import pytest
from django.test import Client

from conversations import services
from conversations.models import Project
from tests.dashboard.helpers import HX
from tests.factories import make_api_key, make_conversation, make_user

pytestmark = pytest.mark.django_db

PAYLOAD = "\"onmouseover=\"alert(1)\" '><script>alert(1)</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
JS_URL = "javascript:alert(1)"
LINKED_JS = re.compile(r"""(href|src|action|formaction|hx-get|hx-post)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)


def assert_escaped(page: str) -> None:
    assert "<script>alert" not in page
    assert '"onmouseover="' not in page
    assert "</pre><script" not in page
    assert not LINKED_JS.search(page)


def hostile_items() -> list[dict]:
    return [
        {"role": "user", "content": f"{PAYLOAD} refund request"},
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": PAYLOAD},
            {"type": "input_image", "image_url": JS_URL, "detail": "auto"},
            {"type": "input_image", "image_url": f"https://example.com/cat.png{PAYLOAD}", "detail": "auto"},
            {"type": "input_file", "filename": PAYLOAD, "file_url": JS_URL},
        ]},
        {"type": "message", "id": "msg_hostile", "status": "completed", "role": "assistant", "content": [
            {"type": "output_text", "text": PAYLOAD,
             "annotations": [{"type": "url_citation", "url": JS_URL, "title": PAYLOAD, "start_index": 0,
                              "end_index": 1}]},
            {"type": "refusal", "refusal": PAYLOAD},
        ]},
        {"type": "function_call", "call_id": PAYLOAD, "name": PAYLOAD, "arguments": json.dumps({"q": PAYLOAD})},
        {"type": "function_call", "call_id": "call_2", "name": "f", "arguments": f"</pre>{PAYLOAD}"},
        {"type": "function_call_output", "call_id": "call_2", "output": PAYLOAD},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": PAYLOAD}]},
        {"type": "web_search_call", "status": "completed", "action": {"type": "search", "query": PAYLOAD}},
        {"type": "custom_tool_call", "call_id": "call_3", "name": PAYLOAD, "input": PAYLOAD},
        {"type": "mcp_call", "server_label": PAYLOAD, "name": PAYLOAD, "arguments": PAYLOAD},
    ]


@pytest.fixture
def hostile_rows(db):
    """A project, an admin user, a conversation with its items and two API keys, every name and
    text of them the payload; and a console client logged in as that user."""
    project = Project.objects.create(name=PAYLOAD)
    user = make_user(PAYLOAD, "admin")
    actor = services.Actor.for_user(user)
    conversation = make_conversation(project, metadata={PAYLOAD: PAYLOAD, "url": JS_URL}, items=hostile_items())
    services.conversation_update(conversation=conversation, actor=actor,
                                 metadata={PAYLOAD: PAYLOAD, f"{PAYLOAD}2": PAYLOAD, "url": JS_URL})
    key, _ = services.apikey_create(project=project, actor=actor, name=PAYLOAD)
    make_api_key(project, name=PAYLOAD)
    client = Client()
    client.force_login(user)
    return {"project": project, "conversation": conversation, "key": key, "client": client,
            "items": list(conversation.items.in_order())}


def conversation_pages(hostile_rows) -> list[str]:
    conversation = hostile_rows["conversation"]
    base = f"/conversations/{conversation.public_id}/"
    item_pages = [f"{base}items/{item.public_id}/" for item in hostile_rows["items"]]
    return [base, f"{base}?order=desc", f"{base}metadata/", f"{base}delete/",
            f"{base}items/{hostile_rows['items'][0].public_id}/delete/", *item_pages]


# (query, whether the htmx partial itself shows the payload: results, chips or an error echoing it)
SEARCHES = [
    ({}, True),
    ({"text": "refund"}, True),
    ({"text": PAYLOAD}, False),
    ({"id": PAYLOAD}, True),
    ({f"metadata[{PAYLOAD}]": PAYLOAD}, True),
    ({"metadata[url]": JS_URL}, True),
    ({"project": PAYLOAD}, False),
    ({"created_after": PAYLOAD}, False),
    ({"after": PAYLOAD}, False),
]
AUDIT_SEARCHES = [({}, True), ({"actor": PAYLOAD}, True), ({"conversation": PAYLOAD}, False),
                  ({"action": PAYLOAD}, True), ({"after": PAYLOAD}, True)]


def query_id(case) -> str:
    return "+".join(case[0]) or "all"


@pytest.mark.parametrize("case", SEARCHES, ids=query_id)
@pytest.mark.parametrize("headers", [{}, HX], ids=["full", "htmx"])
def test_the_search_page_escapes_results_and_echoed_input(hostile_rows, case, headers):
    query, in_partial = case
    response = hostile_rows["client"].get("/", query, headers=headers)
    assert response.status_code == 200
    page = response.content.decode()
    assert_escaped(page)
    if in_partial or not headers:
        assert ESCAPED_SCRIPT in page


def test_the_meta_box_leads_to_chips_that_escape_key_and_value(hostile_rows):
    response = hostile_rows["client"].get("/", {"meta": PAYLOAD}, follow=True)
    page = response.content.decode()
    assert_escaped(page)
    assert '<a class="chip"' in page
    assert "&quot;onmouseover=&quot;alert(1)&quot; &#x27;&gt;&lt;script&gt;" in page.split('<a class="chip"')[1]


def test_text_search_snippets_escape_the_item_and_mark_only_the_words(hostile_rows):
    page = hostile_rows["client"].get("/", {"text": "refund"}).content.decode()
    assert_escaped(page)
    snippet = re.search(r'class="snippet">(.*?)</a>', page, re.DOTALL).group(1)
    # PostgreSQL's ts_headline drops what its parser takes for tags; SQLite keeps them. Either way:
    assert "&quot;alert(1)&quot; &#x27;&gt;" in snippet
    assert "<mark>refund</mark>" in snippet
    assert re.sub(r"</?mark>", "", snippet).count("<") == 0


def test_every_conversation_page_escapes_content_and_metadata(hostile_rows):
    for path in conversation_pages(hostile_rows):
        for headers in ({}, HX):
            response = hostile_rows["client"].get(path, headers=headers)
            assert response.status_code == 200, path
            assert_escaped(response.content.decode())


def test_the_timeline_shows_each_hostile_field_escaped(hostile_rows):
    page = hostile_rows["client"].get(f"/conversations/{hostile_rows['conversation'].public_id}/").content.decode()
    assert_escaped(page)
    # item text, image URL, file name, output text, refusal, call id and name, arguments, output, reasoning,
    # custom tool and MCP names, metadata keys and values, the edit form: all there, all escaped.
    assert page.count(ESCAPED_SCRIPT) >= 15
    assert '<strong class="mono">&quot;onmouseover=&quot;alert(1)&quot; &#x27;&gt;&lt;script&gt;' in page
    assert "&lt;/pre&gt;&quot;onmouseover" in page


def test_a_javascript_image_url_is_shown_as_text_never_as_a_link(hostile_rows):
    page = hostile_rows["client"].get(f"/conversations/{hostile_rows['conversation'].public_id}/").content.decode()
    assert f'<span class="mono">{JS_URL}</span>' in page
    assert not LINKED_JS.search(page)


def test_an_http_image_url_is_a_link_with_its_quotes_escaped(hostile_rows):
    page = hostile_rows["client"].get(f"/conversations/{hostile_rows['conversation'].public_id}/").content.decode()
    assert '<a href="https://example.com/cat.png&quot;onmouseover=&quot;alert(1)&quot; &#x27;&gt;' in page
    assert '<img src="https://example.com/cat.png&quot;onmouseover=' in page


def test_the_metadata_edit_form_escapes_keys_and_values_in_attributes(hostile_rows):
    conversation = hostile_rows["conversation"]
    fragment = hostile_rows["client"].get(f"/conversations/{conversation.public_id}/metadata/", headers=HX)
    html = fragment.content.decode()
    assert_escaped(html)
    escaped = "&quot;onmouseover=&quot;alert(1)&quot; &#x27;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
    assert f'<input name="key" value="{escaped}" aria-label="Key">' in html
    assert f'<input name="value" value="{escaped}" aria-label="Value">' in html


def test_saving_hostile_metadata_from_the_console_answers_it_escaped(hostile_rows):
    conversation = hostile_rows["conversation"]
    response = hostile_rows["client"].post(f"/conversations/{conversation.public_id}/metadata/",
                                    {"key": [PAYLOAD, "x"], "value": [PAYLOAD, PAYLOAD]}, headers=HX)
    assert response.status_code == 200
    assert_escaped(response.content.decode())
    assert ESCAPED_SCRIPT in response.content.decode()


def test_the_bulk_delete_confirmation_escapes_metadata_and_next(hostile_rows):
    response = hostile_rows["client"].post("/conversations/delete/", {
        "ids": [hostile_rows["conversation"].public_id], "next": f"/?text={PAYLOAD}"})
    page = response.content.decode()
    assert response.status_code == 200
    assert_escaped(page)
    assert ESCAPED_SCRIPT in page
    assert 'name="next" value="/?text=&quot;onmouseover' in page


@pytest.mark.parametrize("case", AUDIT_SEARCHES, ids=query_id)
@pytest.mark.parametrize("headers", [{}, HX], ids=["full", "htmx"])
def test_the_audit_log_escapes_actors_details_and_echoed_filters(hostile_rows, case, headers):
    query, in_partial = case
    page = hostile_rows["client"].get("/audit/", query, headers=headers).content.decode()
    assert_escaped(page)
    if in_partial or not headers:
        assert ESCAPED_SCRIPT in page


def test_the_overview_escapes_the_user_name(hostile_rows):
    page = hostile_rows["client"].get("/overview/").content.decode()
    assert_escaped(page)
    assert "Log out &quot;onmouseover=" in page


def test_the_api_keys_page_escapes_labels_and_project_names(hostile_rows):
    page = hostile_rows["client"].get("/api-keys/").content.decode()
    assert_escaped(page)
    assert page.count(ESCAPED_SCRIPT) >= 4  # two labels, two project cells, the project choice, the user


def test_creating_a_key_with_hostile_names_answers_them_escaped(hostile_rows):
    response = hostile_rows["client"].post("/api-keys/", {"new_project": f"{PAYLOAD} 2", "name": PAYLOAD}, follow=True)
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="new-secret"' in page
    assert_escaped(page)
    assert "New key for project <strong>&quot;onmouseover=" in page


def test_the_revoke_confirmation_escapes_the_project_name(hostile_rows):
    page = hostile_rows["client"].get(f"/api-keys/{hostile_rows['key'].prefix}/revoke/").content.decode()
    assert_escaped(page)
    assert f"Requests of project &quot;onmouseover=&quot;alert(1)&quot; &#x27;&gt;{ESCAPED_SCRIPT}" in page


def test_the_login_page_escapes_next(client):
    page = client.get(f"/accounts/login/?next={quote(PAYLOAD)}").content.decode()
    assert_escaped(page)
    assert ESCAPED_SCRIPT in page


# --- payloads in URLs: paths, query strings, the error pages, the login's `next` -------------------

HOSTILE_SEGMENT = quote(PAYLOAD, safe="")


def hostile_paths(hostile_rows) -> list[str]:
    conversation, item = hostile_rows["conversation"].public_id, hostile_rows["items"][0].public_id
    return [
        f"/conversations/{HOSTILE_SEGMENT}/",
        f"/conversations/{HOSTILE_SEGMENT}/metadata/",
        f"/conversations/{HOSTILE_SEGMENT}/delete/",
        f"/conversations/{conversation}/items/{HOSTILE_SEGMENT}/",
        f"/conversations/{conversation}/items/{HOSTILE_SEGMENT}/delete/",
        f"/api-keys/{HOSTILE_SEGMENT}/revoke/",
        f"/{HOSTILE_SEGMENT}",
        f"/conversations/{conversation}/items/{item}/{HOSTILE_SEGMENT}",
    ]


@pytest.mark.parametrize("headers", [{}, HX], ids=["full", "htmx"])
def test_hostile_ids_in_the_path_answer_the_404_page_escaped(hostile_rows, headers):
    for path in hostile_paths(hostile_rows):
        response = hostile_rows["client"].get(path, headers=headers)
        assert response.status_code == 404, path
        page = response.content.decode()
        assert_escaped(page)
        assert "Not found" in page, path
        assert "Content-Security-Policy" in response


def test_hostile_query_strings_on_every_page_are_escaped(hostile_rows):
    conversation, item = hostile_rows["conversation"].public_id, hostile_rows["items"][0].public_id
    hostile = {"order": PAYLOAD, "after": PAYLOAD, "next": JS_URL, PAYLOAD: PAYLOAD}
    paths = ["/", "/overview/", "/audit/", "/api-keys/", f"/conversations/{conversation}/",
             f"/conversations/{conversation}/items/{item}/", f"/conversations/{conversation}/metadata/",
             f"/conversations/{conversation}/delete/", f"/api-keys/{hostile_rows['key'].prefix}/revoke/"]
    for path in paths:
        for headers in ({}, HX):
            response = hostile_rows["client"].get(path, hostile, headers=headers)
            assert response.status_code == 200, path
            assert_escaped(response.content.decode())


def test_the_403_page_escapes_what_it_echoes(hostile_rows):
    client = Client()
    client.force_login(make_user(f"{PAYLOAD}viewer", "viewer"))
    response = client.get(f"/api-keys/?{quote(PAYLOAD)}={quote(PAYLOAD)}")
    assert response.status_code == 403
    page = response.content.decode()
    assert_escaped(page)
    assert "Log out &quot;onmouseover=" in page


def test_an_api_404_for_a_hostile_path_is_json_never_html(hostile_rows, api):
    response = api.get(f"/v1/conversations/{HOSTILE_SEGMENT}")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("target", [JS_URL, "//evil.example/", "https://evil.example/", "/\\evil.example",
                                    "\\\\evil.example", "http:evil.example", f"/?{PAYLOAD}"])
def test_the_login_never_redirects_off_site_or_to_a_script(db, client, target):
    make_user("vera", "viewer")
    page = client.get("/accounts/login/", {"next": target}).content.decode()
    assert_escaped(page)
    response = client.post("/accounts/login/", {"username": "vera", "password": "pw-vera", "next": target})
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\"))
    assert "javascript:" not in location and "evil.example" not in location


@pytest.mark.parametrize("target", [JS_URL, "//evil.example/", "https://evil.example/"])
def test_console_forms_never_go_back_to_an_off_site_next(hostile_rows, target):
    response = hostile_rows["client"].post("/conversations/delete/", {"ids": ["conv_none"], "next": target})
    assert response.status_code == 302
    assert response["Location"] == "/"
