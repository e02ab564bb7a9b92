"""gzip for /v1 (api/transport.py): the SDK asks for it (`Accept-Encoding: gzip`, httpx's default),
gets it for any answer worth compressing, and decodes it; the console's pages are never compressed."""

import httpx2
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.sdk.helpers import NO_KEEPALIVE, texts

pytestmark = pytest.mark.django_db(transaction=True)

# Real conversation text is repetitive enough for gzip; so is this.
LONG = "The customer asked where the order is; the agent looked it up and answered. " * 20


def test_a_large_list_arrives_gzipped_and_the_sdk_decodes_it(sdk, requests_log):
    conversation = sdk.conversations.create(items=[{"role": "user", "content": f"{n} {LONG}"} for n in range(20)])
    raw = sdk.conversations.items.with_raw_response.list(conversation.id, limit=20, order="asc")
    http = raw.http_response
    assert "gzip" in http.request.headers["accept-encoding"]
    assert http.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in http.headers["vary"].lower()
    page = raw.parse()
    assert texts(page.data) == [f"{n} {LONG}" for n in range(20)]
    # What crossed the wire: a fraction of the JSON the SDK read.
    assert http.num_bytes_downloaded < len(http.content) / 5


def test_auto_pagination_reads_gzipped_pages(sdk):
    conversation = sdk.conversations.create(items=[{"role": "user", "content": f"{n} {LONG}"} for n in range(20)])
    sdk.conversations.items.create(conversation.id, items=[{"role": "user", "content": f"{n} {LONG}"}
                                                           for n in range(20, 30)])
    listed = list(sdk.conversations.items.list(conversation.id, limit=7, order="asc"))
    assert texts(listed) == [f"{n} {LONG}" for n in range(30)]


def test_a_small_answer_is_sent_as_it_is(sdk):
    raw = sdk.conversations.with_raw_response.create(metadata={"a": "b"})
    assert "content-encoding" not in raw.http_response.headers
    assert raw.parse().metadata == {"a": "b"}


def test_a_client_that_does_not_ask_gets_plain_json(sdk, base_url, secret):
    conversation = sdk.conversations.create(items=[{"role": "user", "content": f"{n} {LONG}"} for n in range(20)])
    with httpx2.Client(limits=NO_KEEPALIVE) as client:
        response = client.get(f"{base_url}/conversations/{conversation.id}/items",
                              headers={"Authorization": f"Bearer {secret}", "Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert "accept-encoding" in response.headers["vary"].lower()  # a cache keeps both versions apart
    assert len(response.json()["data"]) == 20


def test_an_error_is_gzipped_too_when_large_and_the_sdk_reads_it(sdk, base_url, secret):
    # A long unknown path is echoed in the 404's message: large enough to be worth compressing.
    with httpx2.Client(limits=NO_KEEPALIVE) as client:
        response = client.get(f"{base_url}/{'x' * 2000}", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 404
    assert response.headers["content-encoding"] == "gzip"
    assert response.json()["error"]["code"] == "unknown_url"


def test_console_pages_with_a_csrf_token_are_never_compressed(live_server, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    get_user_model().objects.create_superuser("root", password="pw-root")
    session = Client()
    session.login(username="root", password="pw-root")
    cookies = {name: morsel.value for name, morsel in session.cookies.items()}
    gzip = {"Accept-Encoding": "gzip"}
    with httpx2.Client(limits=NO_KEEPALIVE, cookies=cookies, headers=gzip) as client:
        pages = {path: client.get(live_server.url + path) for path in ["/accounts/login/", "/", "/api-keys/"]}
    pages["login (logged out)"] = httpx2.get(live_server.url + "/accounts/login/", headers=gzip)
    for name, response in pages.items():
        assert response.status_code == 200, name
        assert "content-encoding" not in response.headers, name
        assert "csrfmiddlewaretoken" in response.text or "X-CSRFToken" in response.text, name
        assert not response.content.startswith(b"\x1f\x8b"), name  # gzip's magic number
