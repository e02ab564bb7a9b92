"""CORS for /v1 (api/transport.py, django-cors-headers): off by default, on for the origins in
CONVOSCOPE_CORS_ORIGINS; preflights are answered without a key; never for the console."""

import os
import subprocess
import sys
from pathlib import Path

import httpx2
import openai
import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient

from conversations.models import AuditEvent, Conversation
from convoscope import settings as settings_module
from tests.factories import make_conversation

ROOT = Path(__file__).resolve().parents[2]
APP = "https://app.example.com"
# Headers a browser sends on its own or that are CORS-safelisted: a preflight never asks for them.
SAFELISTED = {"accept", "accept-encoding", "accept-language", "connection", "content-length", "host", "origin"}


@pytest.fixture
def cors(settings):
    settings.CORS_ALLOWED_ORIGINS = [APP]


def preflight(path="/v1/conversations", *, origin=APP, method="POST", headers="authorization, content-type"):
    """What a browser sends before a cross-origin request: no key, no body."""
    return APIClient().options(path, HTTP_ORIGIN=origin, HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
                               HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers)


def cors_headers(response) -> dict:
    return {name.lower(): value for name, value in response.headers.items()
            if name.lower().startswith("access-control")}


def sdk_request_headers(method: str) -> set[str]:
    """The header names the real `openai` SDK sends for a call (captured before it leaves)."""
    sent = []

    def capture(request):
        sent.append(request)
        return httpx2.Response(200, json={"id": "conv_x", "object": "conversation", "created_at": 0, "metadata": {}})

    client = openai.OpenAI(base_url="http://api.test/v1", api_key="cvs_x", max_retries=0,
                           http_client=httpx2.Client(transport=httpx2.MockTransport(capture)))
    if method == "POST":
        client.conversations.with_raw_response.update("conv_x", metadata={"a": "b"})
    elif method == "DELETE":
        client.conversations.delete("conv_x")
    else:
        client.conversations.retrieve("conv_x")
    return {name.lower() for name in sent[0].headers} - SAFELISTED


# --- off by default --------------------------------------------------------------------------------


def test_cors_is_off_by_default(api, project, settings, monkeypatch):
    monkeypatch.delenv("CONVOSCOPE_CORS_ORIGINS", raising=False)
    settings.CORS_ALLOWED_ORIGINS = settings_module.env_origins("CONVOSCOPE_CORS_ORIGINS")
    response = preflight()
    assert cors_headers(response) == {}
    assert response.status_code == 401  # an OPTIONS like any other: no key, no answer
    response = api.get("/v1/conversations", HTTP_ORIGIN=APP)
    assert response.status_code == 200
    assert cors_headers(response) == {}
    assert "origin" not in response.get("Vary", "").lower()


# --- preflights ------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_a_preflight_from_an_allowed_origin_needs_no_key_and_allows_what_the_sdk_sends(db, cors, method):
    wanted = sdk_request_headers(method)
    assert {"authorization", "x-stainless-lang", "x-stainless-retry-count"} <= wanted
    before = Conversation.objects.count(), AuditEvent.objects.count()
    response = preflight("/v1/conversations/conv_x", method=method, headers=", ".join(sorted(wanted)))
    assert response.status_code == 200
    assert response.content == b""
    headers = cors_headers(response)
    assert headers["access-control-allow-origin"] == APP
    assert "access-control-allow-credentials" not in headers  # keys travel in a header, never cookies
    assert wanted <= {name.strip() for name in headers["access-control-allow-headers"].split(",")}
    assert method in {name.strip() for name in headers["access-control-allow-methods"].split(",")}
    assert int(headers["access-control-max-age"]) > 0
    assert (Conversation.objects.count(), AuditEvent.objects.count()) == before


def test_the_headers_of_the_sdk_in_a_browser_are_allowed(db, cors):
    # openai-node's buildHeaders (client.ts) and getPlatformHeaders: what `new OpenAI({dangerouslyAllowBrowser})`
    # sends from a page, plus the Idempotency-Key a client may set for a retried write.
    node = ["authorization", "content-type", "user-agent", "idempotency-key", "openai-organization", "openai-project",
            "x-stainless-arch", "x-stainless-lang", "x-stainless-os", "x-stainless-package-version",
            "x-stainless-retry-count", "x-stainless-runtime", "x-stainless-runtime-version", "x-stainless-timeout"]
    allowed = cors_headers(preflight(headers=", ".join(node)))["access-control-allow-headers"]
    assert set(node) <= {name.strip() for name in allowed.split(",")}


def test_a_preflight_from_another_origin_gets_no_cors_headers(db, cors):
    for origin in ["https://evil.example.com", "http://app.example.com", "https://app.example.com:8443", "null"]:
        response = preflight(origin=origin)
        assert cors_headers(response) == {}, origin


# --- answers ---------------------------------------------------------------------------------------


def test_every_kind_of_answer_to_an_allowed_origin_can_be_read_by_its_page(api, project, cors, settings):
    conversation = make_conversation(project)
    settings.CONVOSCOPE_MAX_BODY_BYTES = 100
    responses = {
        "retrieve": api.get(f"/v1/conversations/{conversation.public_id}", HTTP_ORIGIN=APP),
        "delete": api.delete(f"/v1/conversations/{conversation.public_id}", HTTP_ORIGIN=APP),
        "401": APIClient().get("/v1/conversations", HTTP_ORIGIN=APP),
        "404": api.get("/v1/conversations/conv_missing", HTTP_ORIGIN=APP),
        "404-url": api.get("/v1/unknown", HTTP_ORIGIN=APP),
        "405": api.put("/v1/conversations", {}, format="json", HTTP_ORIGIN=APP),
        "413": api.post("/v1/conversations", {"metadata": {"a": "b" * 200}}, format="json", HTTP_ORIGIN=APP),
    }
    for name, response in responses.items():
        headers = cors_headers(response)
        assert headers["access-control-allow-origin"] == APP, name
        exposed = {header.strip() for header in headers["access-control-expose-headers"].split(",")}
        assert {"x-request-id", "retry-after", "x-should-retry", "idempotent-replayed",
                "original-request-id"} <= exposed, name
        assert "origin" in response["Vary"].lower(), name
    assert [response.status_code for response in responses.values()] == [200, 200, 401, 404, 404, 405, 413]


def test_an_answer_to_another_origin_carries_no_cors_headers(api, project, cors):
    response = api.get("/v1/conversations", HTTP_ORIGIN="https://evil.example.com")
    assert response.status_code == 200
    assert cors_headers(response) == {}


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/conversations/export.jsonl", "/api-keys/",
                                  "/api/schema/", "/admin/login/", "/static/app.js"])
def test_the_console_is_never_cross_origin(operator_client, cors, path):
    assert cors_headers(operator_client.get(path, HTTP_ORIGIN=APP)) == {}
    response = operator_client.options(path, HTTP_ORIGIN=APP, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert cors_headers(response) == {}


# --- the setting -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "origins"), [
    ("", []),
    ("https://app.example.com", ["https://app.example.com"]),
    (" https://App.Example.com/ , http://localhost:3000", ["https://app.example.com", "http://localhost:3000"]),
    ("http://[::1]:5173", ["http://[::1]:5173"]),
])
def test_the_origins_setting_is_parsed_strictly(monkeypatch, raw, origins):
    monkeypatch.setenv("CONVOSCOPE_CORS_ORIGINS", raw)
    assert settings_module.env_origins("CONVOSCOPE_CORS_ORIGINS") == origins


@pytest.mark.parametrize("raw", ["*", "null", "app.example.com", "//app.example.com", "ftp://app.example.com",
                                 "https://app.example.com/app", "https://app.example.com?x=1", "https://app.example.com:",
                                 "https://app.example.com:443", "http://app.example.com:80", "https://app.example.com:99999",
                                 "https://user@app.example.com", "https://app.example.com,*.example.com"])
def test_a_malformed_origin_stops_start_up(monkeypatch, raw):
    monkeypatch.setenv("CONVOSCOPE_CORS_ORIGINS", raw)
    with pytest.raises(ImproperlyConfigured, match="CONVOSCOPE_CORS_ORIGINS must be"):
        settings_module.env_origins("CONVOSCOPE_CORS_ORIGINS")


def test_the_server_does_not_start_with_a_malformed_origin():
    env = {**os.environ, "CONVOSCOPE_CORS_ORIGINS": "https://app.example.com,app.example.com"}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0
    assert "ImproperlyConfigured: CONVOSCOPE_CORS_ORIGINS must be" in result.stderr
    assert "'app.example.com'" in result.stderr
