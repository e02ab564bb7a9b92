"""Console downloads: one conversation as JSON, a search's results as streamed JSON Lines, both in
the export format (the same bytes as `manage.py export_conversations`)."""

import json
from datetime import UTC, datetime
from io import StringIO
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conversations.models import Conversation
from tests.dashboard.helpers import console_client, login_redirect, split_location
from tests.factories import make_conversation, make_messages

pytestmark = pytest.mark.django_db

LIST_DOWNLOAD = "/conversations/export.jsonl"


def detail_download(conversation) -> str:
    return f"/conversations/{conversation.public_id}/export.json"


def cli_export(*args) -> str:
    out = StringIO()
    call_command("export_conversations", "--no-progress", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def body(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode()


@pytest.fixture
def conversations(project, other_project):
    made = [
        make_conversation(project, items=make_messages(3), metadata={"plan": "pro", "user_id": "u1"}),
        make_conversation(project, items=[{"role": "user", "content": "where is my parcel"}],
                          metadata={"plan": "free"}),
        make_conversation(other_project, items=make_messages(2), metadata={"plan": "pro"}),
    ]
    for n, conversation in enumerate(made):
        Conversation.objects.filter(pk=conversation.pk).update(created_at=datetime(2026, 3, 1 + n, tzinfo=UTC))
    return made


def test_a_viewer_downloads_a_conversation_as_one_export_line(viewer_client, conversations):
    first = conversations[0]
    response = viewer_client.get(detail_download(first))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == f'attachment; filename="{first.public_id}.json"'
    assert body(response) == cli_export().splitlines(keepends=True)[0]
    assert json.loads(body(response))["id"] == first.public_id


def test_a_viewer_downloads_search_results_as_streamed_json_lines(viewer_client, conversations):
    response = viewer_client.get(LIST_DOWNLOAD)

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/x-ndjson; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="conversations-')
    assert body(response) == cli_export()


@pytest.mark.parametrize("query, expected", [
    ({"metadata[plan]": "pro"}, [0, 2]),
    ({"metadata[plan]": "pro", "metadata[user_id]": "u1"}, [0]),
    ({"project": "PROJECT"}, [0, 1]),
    ({"text": "parcel"}, [1]),
    ({"created_after": "2026-03-02"}, [1, 2]),
    ({"created_before": "2026-03-02"}, [0]),
])
def test_the_search_download_applies_the_search_filters(viewer_client, conversations, project, query, expected):
    query = {k: (str(project.pk) if v == "PROJECT" else v) for k, v in query.items()}
    response = viewer_client.get(LIST_DOWNLOAD, query)
    ids = [json.loads(line)["id"] for line in body(response).splitlines()]
    assert ids == [conversations[n].public_id for n in expected]


def test_the_search_download_matches_the_cli_export_with_the_same_filters(viewer_client, conversations, project):
    response = viewer_client.get(LIST_DOWNLOAD, {"metadata[plan]": "pro", "project": project.pk})
    assert body(response) == cli_export("--metadata", "plan=pro", "--project", "acme")


def test_a_bad_filter_answers_400(viewer_client, conversations):
    response = viewer_client.get(LIST_DOWNLOAD, {"created_after": "someday"})
    assert response.status_code == 400
    assert "created_after" in response.content.decode()


def test_the_search_page_links_to_the_download_of_the_same_search(viewer_client, conversations, project):
    query = {"metadata[plan]": "pro", "project": project.pk, "text": "message"}
    page = viewer_client.get(reverse("dashboard:conversation-list"), query).content.decode()
    [href] = [part.split('"')[1] for part in page.split("<a href=")[1:] if "export.jsonl" in part.split('"')[1]]
    path, params = split_location(href.replace("&amp;", "&"))
    assert path == LIST_DOWNLOAD
    assert params.dict() == {"metadata[plan]": "pro", "project": str(project.pk), "text": "message"}


def test_live_search_results_carry_the_link_for_the_new_search(viewer_client, conversations):
    # htmx swaps in the results section as you type: the link in it follows the search.
    response = viewer_client.get(reverse("dashboard:conversation-list"), {"metadata[plan]": "pro", "text": "x"},
                                 headers={"HX-Request": "true"})
    content = response.content.decode()
    assert content.lstrip().startswith('<section id="results"')
    query = urlencode({"metadata[plan]": "pro", "text": "x"}).replace("&", "&amp;")
    assert f'href="{LIST_DOWNLOAD}?{query}"' in content


def test_the_link_leaves_out_the_page_cursor(viewer_client, conversations):
    page = viewer_client.get(reverse("dashboard:conversation-list"),
                             {"metadata[plan]": "pro", "after": conversations[2].public_id})
    assert f'href="{LIST_DOWNLOAD}?{urlencode({"metadata[plan]": "pro"})}"' in page.content.decode()


def test_the_conversation_page_links_to_its_download(viewer_client, conversations):
    page = viewer_client.get(reverse("dashboard:conversation-detail", args=[conversations[0].public_id]))
    assert f'href="{detail_download(conversations[0])}"' in page.content.decode()


def test_an_unknown_conversation_is_a_404(viewer_client, db):
    assert viewer_client.get("/conversations/conv_nope/export.json").status_code == 404


@pytest.mark.parametrize("url", ["/conversations/CONV/export.json", LIST_DOWNLOAD])
def test_downloads_need_a_login_and_a_role(client, conversations, url):
    url = url.replace("CONV", conversations[0].public_id)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == login_redirect(url)
    assert console_client(None).get(url).status_code == 403


def test_the_search_download_reads_a_constant_number_of_queries(viewer_client, project):
    def queries_for_download() -> int:
        with CaptureQueriesContext(connection) as captured:
            body(viewer_client.get(LIST_DOWNLOAD))
        return len(captured)

    make_conversation(project, items=make_messages(2))
    one = queries_for_download()
    for _ in range(20):
        make_conversation(project, items=make_messages(2))
    assert queries_for_download() == one
