"""Every error answers in OpenAI's shape: {"error": {"message", "type", "param", "code"}} (spec §6, §12)."""

import pytest
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from conversations import services
from conversations.models import Conversation, Item
from tests.factories import append_messages, make_conversation
from tests.helpers import assert_api_error, row_counts

ON_POSTGRES = connection.vendor == "postgresql"


# --- bodies -------------------------------------------------------------------------------------


def test_malformed_json_is_a_400(api, project):
    before = row_counts()
    response = api.post("/v1/conversations", data='{"metadata": {', content_type="application/json")
    error = assert_api_error(response, 400, code="invalid_json")
    assert "JSON" in error["message"]
    assert row_counts() == before


@pytest.mark.parametrize("raw", ["[]", '[{"role": "user", "content": "hi"}]', '"text"', "42", "null"])
@pytest.mark.parametrize("path", ["/v1/conversations", "{conversation}", "{conversation}/items"],
                         ids=["create", "update", "items.create"])
def test_a_body_that_is_not_a_json_object_is_a_400(api, conversation, raw, path):
    before = row_counts()
    url = path.format(conversation=f"/v1/conversations/{conversation.public_id}")
    response = api.post(url, data=raw, content_type="application/json")
    assert_api_error(response, 400, code="invalid_type")
    assert row_counts() == before


def test_a_form_encoded_body_is_a_415(api, project):
    response = api.post("/v1/conversations", data="metadata=x", content_type="application/x-www-form-urlencoded")
    assert_api_error(response, 415, code="unsupported_media_type")
    assert Conversation.objects.count() == 0


@override_settings(CONVOSCOPE_MAX_BODY_BYTES=200)
def test_a_body_over_the_size_limit_is_a_413(api, conversation):
    before = row_counts()
    response = api.post(f"/v1/conversations/{conversation.public_id}/items",
                        {"items": [{"role": "user", "content": "x" * 300}]}, format="json")
    error = assert_api_error(response, 413, code="request_too_large")
    assert "200" in error["message"]
    assert row_counts() == before


@override_settings(CONVOSCOPE_MAX_BODY_BYTES=200)
def test_a_body_at_the_size_limit_is_accepted(api, conversation):
    body = '{"items": [{"role": "user", "content": "%s"}]}'
    padding = 200 - len(body % "")
    response = api.post(f"/v1/conversations/{conversation.public_id}/items", data=body % ("x" * padding),
                        content_type="application/json")
    assert response.status_code == 200
    assert response.json()["data"][0]["content"] == [{"type": "input_text", "text": "x" * padding}]
    assert Item.objects.get(conversation=conversation).text == "x" * padding


def test_an_invalid_content_length_is_a_400(api, project):
    response = api.post("/v1/conversations", data="{}", content_type="application/json", CONTENT_LENGTH="lots")
    assert_api_error(response, 400, code="invalid_request")
    assert Conversation.objects.count() == 0


@pytest.mark.parametrize(
    ("path", "raw", "param"),
    [
        ("/v1/conversations", '{"metadata": {"k": "\\ud800"}}', "metadata"),
        ("/v1/conversations", '{"metadata": {"\\udfff": "v"}}', "metadata"),
        ("/v1/conversations", '{"items": [{"role": "user", "content": "a\\ud800b"}]}', "items[0]"),
        ("{conversation}/items", '{"items": [{"role": "user", "content": "\\udc00"}]}', "items[0]"),
    ],
    ids=["metadata-value", "metadata-key", "create-item", "append-item"],
)
def test_a_lone_surrogate_in_a_body_string_is_a_400_and_writes_nothing(api, conversation, path, raw, param):
    before = row_counts()
    url = path.format(conversation=f"/v1/conversations/{conversation.public_id}")
    response = api.post(url, data=raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["param"].startswith(param)
    assert row_counts() == before


def test_one_bad_request_cannot_break_the_conversation_list(api, project):
    kept = make_conversation(project, metadata={"k": "v"})
    refused = api.post("/v1/conversations", data='{"metadata": {"k": "\\ud800"}}', content_type="application/json")
    assert refused.status_code == 400
    response = api.get("/v1/conversations")
    assert response.status_code == 200
    assert [(c["id"], c["metadata"]) for c in response.json()["data"]] == [(kept.public_id, {"k": "v"})]


def test_deeply_nested_json_is_a_400(api, conversation):
    nested = "[" * 5000 + "]" * 5000
    raw = '{"items": [{"type": "tool_search_call", "execution": "server", "arguments": ' + nested + "}]}"
    before = row_counts()
    response = api.post(f"/v1/conversations/{conversation.public_id}/items", data=raw, content_type="application/json")
    assert_api_error(response, 400, code="invalid_json")
    assert row_counts() == before


@pytest.mark.parametrize("depth", [850, 900])  # parsed by Python, but past what the API can render back
def test_json_nested_past_the_domains_limit_is_a_400_not_a_500(api, conversation, depth):
    raw = ('{"items": [{"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}", "id": "fc_1", '
           '"status": "completed", "extra": ' + "[" * depth + "]" * depth + "}]}")
    before = row_counts()
    response = api.post(f"/v1/conversations/{conversation.public_id}/items", data=raw, content_type="application/json")
    assert_api_error(response, 400, code="invalid_json")
    assert "nested more than" in response.json()["error"]["message"]
    assert row_counts() == before


def test_nan_is_not_json(api, conversation):
    raw = '{"items": [{"type": "tool_search_call", "execution": "server", "arguments": {"x": NaN}}]}'
    response = api.post(f"/v1/conversations/{conversation.public_id}/items", data=raw, content_type="application/json")
    assert_api_error(response, 400, code="invalid_json")
    assert Item.objects.count() == 0


# --- authentication ------------------------------------------------------------------------------


def test_a_missing_api_key_is_a_401(project):
    response = APIClient().get("/v1/conversations")
    error = assert_api_error(response, 401, code="invalid_api_key")
    assert "API key" in error["message"]


@pytest.mark.parametrize("header", ["Bearer cvs_not_a_real_key_at_all", "Bearer ", "Basic dXNlcjpwYXNz", "cvs_abc"],
                         ids=["wrong-key", "empty-bearer", "basic-scheme", "no-scheme"])
def test_a_wrong_api_key_is_a_401(project, header):
    response = APIClient().get("/v1/conversations", HTTP_AUTHORIZATION=header)
    assert_api_error(response, 401, code="invalid_api_key")


def test_a_wrong_key_does_not_leak_the_whole_secret(project):
    response = APIClient().get("/v1/conversations", HTTP_AUTHORIZATION="Bearer cvs_SECRETPART_0123456789")
    assert "SECRETPART_0123456789" not in response.json()["error"]["message"]


def test_a_revoked_api_key_is_a_401(api, api_key, conversation):
    assert api.get(f"/v1/conversations/{conversation.public_id}").status_code == 200
    services.apikey_revoke(prefix=api_key[0].prefix, actor=services.SYSTEM)
    response = api.get(f"/v1/conversations/{conversation.public_id}")
    assert_api_error(response, 401, code="invalid_api_key")


def test_a_revoked_api_key_cannot_write(api, api_key, conversation):
    services.apikey_revoke(prefix=api_key[0].prefix, actor=services.SYSTEM)
    before = row_counts()
    response = api.post(f"/v1/conversations/{conversation.public_id}/items",
                        {"items": [{"role": "user", "content": "hi"}]}, format="json")
    assert_api_error(response, 401, code="invalid_api_key")
    assert row_counts() == before


def test_authentication_comes_before_not_found_and_method_checks(project):
    client = APIClient()
    assert_api_error(client.get("/v1/conversations/conv_missing"), 401, code="invalid_api_key")
    assert_api_error(client.put("/v1/conversations/conv_missing"), 401, code="invalid_api_key")


# --- not found ------------------------------------------------------------------------------------


def test_an_unknown_conversation_is_a_404_naming_the_id(api, project):
    error = assert_api_error(api.get("/v1/conversations/conv_nope"), 404, param="conversation_id", code="not_found")
    assert "'conv_nope'" in error["message"]


def test_an_unknown_item_is_a_404_naming_the_id(api, conversation):
    append_messages(conversation, 1)
    response = api.get(f"/v1/conversations/{conversation.public_id}/items/msg_nope")
    error = assert_api_error(response, 404, param="item_id", code="not_found")
    assert "'msg_nope'" in error["message"]


def test_an_id_with_percent_encoded_characters_is_looked_up_decoded(api, project):
    error = assert_api_error(api.get("/v1/conversations/conv%20x%3Fy"), 404, param="conversation_id", code="not_found")
    assert "'conv x?y'" in error["message"]


@pytest.mark.parametrize(
    ("path", "status", "param"),
    [
        ("/v1/conversations/conv%00x", 404, "conversation_id"),
        ("{conversation}/items/msg%00x", 404, "item_id"),
        ("{conversation}/items?after=msg%00x", 400, "after"),
        ("/v1/conversations?after=conv%00x", 400, "after"),
    ],
    ids=["conversation-id", "item-id", "items-after", "conversations-after"],
)
def test_a_nul_character_in_an_id_answers_like_any_unknown_id(api, conversation, path, status, param):
    response = api.get(path.format(conversation=f"/v1/conversations/{conversation.public_id}"))
    assert response.status_code == status
    assert response.json()["error"]["param"] == param


def test_a_nul_character_in_the_api_key_is_a_401(project):
    response = APIClient().get("/v1/conversations", HTTP_AUTHORIZATION="Bearer cvs_abc\x00def")
    assert_api_error(response, 401, code="invalid_api_key")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"metadata": {"k": "a\u0000b"}}, "metadata"),
        ({"metadata": {"k\u0000": "v"}}, "metadata"),
        ({"items": [{"role": "user", "content": "a\u0000b"}]}, "items[0]"),
        ({"items": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": '{"\u0000": 1}'}]},
         "items[0]"),
    ],
    ids=["metadata-value", "metadata-key", "message-text", "function-arguments"],
)
def test_a_nul_character_in_a_body_string_is_a_400(api, project, body, param):
    before = row_counts()
    response = api.post("/v1/conversations", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["param"].startswith(param)
    assert row_counts() == before


# --- methods and URLs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", "/v1/conversations/conv_x"),
        ("patch", "/v1/conversations/conv_x"),
        ("delete", "/v1/conversations"),
        ("put", "/v1/conversations"),
        ("delete", "/v1/conversations/conv_x/items"),
        ("post", "/v1/conversations/conv_x/items/msg_x"),
        ("put", "/v1/conversations/conv_x/items/msg_x"),
    ],
)
def test_an_unsupported_method_is_a_405(api, project, method, path):
    response = getattr(api, method)(path, {}, format="json")
    error = assert_api_error(response, 405, code="method_not_allowed")
    assert method.upper() in error["message"]


@pytest.mark.parametrize(("path", "allow"), [
    ("/v1/conversations", "GET, POST, HEAD"),
    ("/v1/conversations/{conversation}", "GET, POST, DELETE, HEAD"),
    ("/v1/conversations/{conversation}/items", "GET, POST, HEAD"),
    ("/v1/conversations/{conversation}/items/{item}", "GET, DELETE, HEAD"),
])
def test_options_is_a_405_like_any_unsupported_method(api, conversation, path, allow):
    """Not DRF's metadata document: OPTIONS is not part of the API (a browser's CORS preflight is
    answered before DRF, see test_cors.py), and `Allow` lists what is."""
    item = append_messages(conversation, 1)[0]
    url = path.format(conversation=conversation.public_id, item=item.public_id)
    response = api.options(url)
    error = assert_api_error(response, 405, code="method_not_allowed")
    assert "OPTIONS" in error["message"]
    assert response["Allow"] == allow
    assert api.put(url, {}, format="json")["Allow"] == allow


@pytest.mark.parametrize("path", ["/v1/nothing", "/v1/conversation", "/v1/conversations/conv_x/items/msg_x/extra",
                                  "/v1/responses"])
def test_an_unknown_url_under_v1_is_a_json_404(api, project, path):
    error = assert_api_error(api.get(path), 404, code="unknown_url")
    assert path in error["message"]


def test_the_bare_v1_url_is_a_json_404(api, project):
    assert_api_error(api.get("/v1"), 404, code="unknown_url")


@pytest.mark.parametrize("method", ["get", "post", "delete"])
@pytest.mark.parametrize("path", ["/v1/conversations/", "{conversation}/", "{conversation}/items/",
                                  "{conversation}/items/{item}/"])
def test_a_trailing_slash_is_a_404_not_a_redirect(api, conversation, method, path):
    item = append_messages(conversation, 1)[0]
    url = path.format(conversation=f"/v1/conversations/{conversation.public_id}", item=item.public_id)
    before = row_counts()
    response = getattr(api, method)(url, {}, format="json")
    assert_api_error(response, 404, code="unknown_url")
    assert "Location" not in response
    assert row_counts() == before


# --- server errors ----------------------------------------------------------------------------------


def test_an_unexpected_error_on_a_write_is_a_500_the_sdk_does_not_retry(api, project, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "conversation_create", broken)
    response = api.post("/v1/conversations", {}, format="json")
    error = assert_api_error(response, 500, type="server_error", code="server_error")
    assert "boom" not in error["message"]
    assert response["x-should-retry"] == "false"


def test_an_unexpected_error_on_a_read_may_be_retried(api, conversation, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("api.views.queries.get_conversation", broken)
    response = api.get(f"/v1/conversations/{conversation.public_id}")
    assert_api_error(response, 500, type="server_error", code="server_error")
    assert "x-should-retry" not in response


# --- headers on every response ----------------------------------------------------------------------


def every_kind_of_response(api, conversation):
    item = append_messages(conversation, 1)[0]
    base = f"/v1/conversations/{conversation.public_id}"
    return {
        "create": api.post("/v1/conversations", {}, format="json"),
        "retrieve": api.get(base),
        "update": api.post(base, {"metadata": {"a": "b"}}, format="json"),
        "list": api.get("/v1/conversations"),
        "items.create": api.post(f"{base}/items", {"items": [{"role": "user", "content": "x"}]}, format="json"),
        "items.list": api.get(f"{base}/items"),
        "items.retrieve": api.get(f"{base}/items/{item.public_id}"),
        "items.delete": api.delete(f"{base}/items/{item.public_id}"),
        "delete": api.delete(base),
        "400": api.post("/v1/conversations", {"metadata": "x"}, format="json"),
        "401": APIClient().get("/v1/conversations"),
        "404": api.get("/v1/conversations/conv_missing"),
        "404-url": api.get("/v1/unknown"),
        "405": api.put("/v1/conversations", {}, format="json"),
        "malformed": api.post("/v1/conversations", data="{", content_type="application/json"),
    }


def test_every_response_is_json_with_a_request_id(api, conversation):
    responses = every_kind_of_response(api, conversation)
    for name, response in responses.items():
        assert response["Content-Type"] == "application/json", name
        assert response["x-request-id"].startswith("req_"), name
        response.json()
    request_ids = [response["x-request-id"] for response in responses.values()]
    assert len(set(request_ids)) == len(request_ids)


def test_every_success_is_a_200_with_a_body(api, conversation):
    responses = every_kind_of_response(api, conversation)
    for name in ("create", "retrieve", "update", "list", "items.create", "items.list", "items.retrieve",
                 "items.delete", "delete"):
        assert responses[name].status_code == 200, name
        assert responses[name].json(), name


@override_settings(CONVOSCOPE_MAX_BODY_BYTES=10)
def test_a_413_carries_a_request_id_too(api, project):
    response = api.post("/v1/conversations", {"metadata": {"k": "v"}}, format="json")
    assert response.status_code == 413
    assert response["x-request-id"].startswith("req_")


def test_a_delete_with_a_json_content_type_and_an_empty_body_works(api, conversation):
    item = append_messages(conversation, 1)[0]
    base = f"/v1/conversations/{conversation.public_id}"
    response = api.delete(f"{base}/items/{item.public_id}", content_type="application/json")
    assert response.status_code == 200
    response = api.delete(base, content_type="application/json")
    assert response.status_code == 200
    assert response.json() == {"id": conversation.public_id, "object": "conversation.deleted", "deleted": True}
