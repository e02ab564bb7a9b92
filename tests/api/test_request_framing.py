"""Bodies are never silently lost, dates with any ISO offset are understood, 401s name their scheme
(issue 9). The chunked tests use a real HTTP client against a live server, as a careless client would."""

import json
import shutil
import subprocess

import httpx2 as httpx
import pytest
from rest_framework.test import APIClient

from conversations.models import Conversation, Item
from tests.factories import make_conversation

LIVE = pytest.mark.django_db(transaction=True)  # the live server reads what the test wrote

BODY = {"items": [{"role": "user", "content": "keep me"}], "metadata": {"ticket": "A-1"}}


def chunks():
    data = json.dumps(BODY).encode()
    yield data[:10]
    yield data[10:]


@LIVE
def test_a_chunked_body_is_refused_with_411_and_nothing_is_written(live_server, api_key):
    response = httpx.post(f"{live_server.url}/v1/conversations", content=chunks(),
                          headers={"Authorization": f"Bearer {api_key[1]}", "Content-Type": "application/json"})
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.request.headers
    assert response.status_code == 411
    assert response.json()["error"]["code"] == "length_required"
    assert (Conversation.objects.count(), Item.objects.count()) == (0, 0)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@LIVE
def test_curl_with_transfer_encoding_chunked_gets_411(live_server, api_key):
    result = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Transfer-Encoding: chunked",
         "-H", f"Authorization: Bearer {api_key[1]}", "-H", "Content-Type: application/json",
         "--data-binary", json.dumps(BODY), f"{live_server.url}/v1/conversations"],
        capture_output=True, text=True, timeout=30, check=True,
    )
    assert result.stdout == "411"
    assert Conversation.objects.count() == 0


@LIVE
def test_the_same_body_with_a_content_length_is_stored_whole(live_server, api_key):
    response = httpx.post(f"{live_server.url}/v1/conversations", json=BODY,
                          headers={"Authorization": f"Bearer {api_key[1]}"})
    assert response.status_code == 200
    conversation = Conversation.objects.get()
    assert conversation.metadata == {"ticket": "A-1"}
    assert conversation.items.count() == 1


@pytest.mark.parametrize("offset", ["-16:00", "+18:00", "-23:59"])
def test_a_date_filter_with_a_large_utc_offset_is_converted_not_a_500(api, project, offset):
    make_conversation(project)
    response = api.get("/v1/conversations", {"created_after": f"2000-01-01T00:00:00{offset}"})
    assert response.status_code == 200
    assert len(response.json()["data"]) == 1
    response = api.get("/v1/conversations", {"created_before": f"2000-01-01T00:00:00{offset}"})
    assert response.status_code == 200
    assert response.json()["data"] == []


def test_a_large_offset_in_the_console_search_filters_in_utc(viewer_client, project):
    conversation = make_conversation(project)
    response = viewer_client.get("/", {"created_after": "2000-01-01T00:00:00-16:00"})
    assert response.status_code == 200
    assert conversation.public_id in response.content.decode()
    response = viewer_client.get("/", {"created_before": "2000-01-01T00:00:00-16:00"})
    assert response.status_code == 200
    assert conversation.public_id not in response.content.decode()


@pytest.mark.parametrize("header", [None, "Bearer cvs_wrong_key_0123456789"], ids=["missing", "wrong"])
def test_every_401_carries_www_authenticate_bearer(project, header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/v1/conversations")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
