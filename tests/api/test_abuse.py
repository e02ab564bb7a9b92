"""Hostile input: every answer is a clear 4xx or the right result, never a 500.

tests/api/test_errors.py has the basics (413, malformed JSON, NUL characters, lone surrogates,
deep nesting) and test_conversation_list.py the odd-but-plain metadata keys; this file adds
hostile filters and search strings on GET /v1/conversations, invalid UTF-8, huge metadata, and
what schemathesis found.
"""

from urllib.parse import urlencode

import pytest

from conversations.models import Conversation
from tests.factories import make_conversation
from tests.helpers import assert_api_error, row_counts

SQL = ["' OR '1'='1", "k'); DROP TABLE conversations_conversation; --", "1; SELECT pg_sleep(5)", '" OR ""="']
LIKE = ["%", "_", "%_%", "k%", "_k"]
REGEX = [".*", "^k$", "[a-z]+", "(k|v)", "k\\", "\\d", "$.k", "@>"]
HOSTILE = SQL + LIKE + REGEX


def ids(response):
    assert response.status_code == 200, response.content
    return [conversation["id"] for conversation in response.json()["data"]]


# --- metadata filters ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", HOSTILE)
def test_a_hostile_metadata_filter_key_is_matched_literally(api, project, key):
    match = make_conversation(project, metadata={key: "yes"}).public_id
    make_conversation(project, metadata={"k": "yes", "kk": "yes", "a": "yes"})  # what a wildcard would catch
    assert ids(api.get("/v1/conversations?" + urlencode({f"metadata[{key}]": "yes"}))) == [match]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_metadata_filter_value_is_matched_literally(api, project, value):
    match = make_conversation(project, metadata={"k": value}).public_id
    make_conversation(project, metadata={"k": "v"})
    make_conversation(project, metadata={"k": "vvv"})
    assert ids(api.get("/v1/conversations?" + urlencode({"metadata[k]": value}))) == [match]


def test_a_hostile_filter_changes_nothing_in_the_database(api, project):
    make_conversation(project, items=[{"role": "user", "content": "hi"}])
    before = row_counts()
    for value in SQL:
        api.get("/v1/conversations?" + urlencode({f"metadata[{value}]": value, "text": value, "after": value}))
    assert row_counts() == before


def test_an_empty_metadata_filter_key_is_a_400(api, project):
    assert_api_error(api.get("/v1/conversations?metadata[]=x"), 400, param="metadata[]", code="invalid_value")


def test_a_very_long_metadata_filter_key_is_a_400(api, project):
    key = "k" * 10_000
    response = api.get("/v1/conversations?" + urlencode({f"metadata[{key}]": "x"}))
    assert_api_error(response, 400, param="metadata", code="string_above_max_length")


def test_17_metadata_filters_are_a_400(api, project):
    query = urlencode({f"metadata[k{n}]": "v" for n in range(17)})
    assert_api_error(api.get(f"/v1/conversations?{query}"), 400, param="metadata", code="too_many_filters")


def test_16_metadata_filters_are_fine(api, project):
    metadata = {f"k{n}": "v" for n in range(16)}
    match = make_conversation(project, metadata=metadata).public_id
    assert ids(api.get("/v1/conversations?" + urlencode({f"metadata[{k}]": v for k, v in metadata.items()}))) == [match]


@pytest.mark.parametrize("path", ["/v1/conversations", "/v1/conversations/conv_x/items"])
def test_over_a_thousand_query_parameters_are_a_400(api, project, path):
    # Was a 500: Django refuses to parse them (TooManyFieldsSent) and nothing mapped that.
    response = api.get(path + "?" + "&".join(f"metadata[k{n}]=v" for n in range(1001)))
    assert_api_error(response, 400, code="too_many_parameters")


def test_a_metadata_filter_with_invalid_utf8_matches_nothing(api, project):
    make_conversation(project, metadata={"k": "v"})
    assert ids(api.get("/v1/conversations?metadata[k]=%ff%fe")) == []


# --- text search ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE + ["\"unbalanced", "a:* & b | !c <-> d", "-", "or", "()"])
def test_a_hostile_search_string_is_just_text(api, project, text):
    make_conversation(project, items=[{"role": "user", "content": "Nothing to see here, move along"}])
    assert ids(api.get("/v1/conversations?" + urlencode({"text": text}))) == []


@pytest.mark.parametrize("noise", ["%", "_", "' OR 1=1 --", ".*"])
def test_hostile_characters_beside_a_real_word_still_find_it(api, project, noise):
    match = make_conversation(project, items=[{"role": "user", "content": "I was 100% promised a refund"}]).public_id
    make_conversation(project, items=[{"role": "user", "content": "Where is my parcel?"}])
    assert ids(api.get("/v1/conversations?" + urlencode({"text": f"refund {noise}"}))) == [match]


def test_a_search_string_over_200_characters_is_a_400(api, project):
    assert_api_error(api.get("/v1/conversations?" + urlencode({"text": "refund " * 40})), 400, param="text")


def test_a_nul_character_in_the_search_string_is_a_400(api, project):
    assert_api_error(api.get("/v1/conversations?text=a%00b"), 400, param="text")


# --- dates -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("param", "value"),
    [("created_after", "0001-01-01T00:00:00+01:00"), ("created_before", "9999-12-31T23:59:59-01:00")],
    ids=["year-0-in-utc", "year-10000-in-utc"],
)
def test_a_date_outside_the_utc_calendar_is_a_400(api, project, param, value):
    # Was a 500 on SQLite: the aware datetime could not be converted to UTC for the query.
    make_conversation(project)
    error = assert_api_error(api.get("/v1/conversations?" + urlencode({param: value})), 400, param=param)
    assert "UTC" in error["message"]


@pytest.mark.parametrize("value", ["yesterday", "2024-02-30T00:00:00Z", "99999-01-01", "' OR 1=1 --", "2024-13-01"])
def test_a_malformed_date_is_a_400(api, project, value):
    assert_api_error(api.get("/v1/conversations?" + urlencode({"created_after": value})), 400, param="created_after")


def test_the_earliest_and_latest_utc_dates_are_fine(api, project):
    match = make_conversation(project).public_id
    query = urlencode({"created_after": "0001-01-01T00:00:00Z", "created_before": "9999-12-31T23:59:59Z"})
    assert ids(api.get(f"/v1/conversations?{query}")) == [match]


# --- bodies ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [b"\xff\xfe", b"\x80", b"\xe2\x82", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"],
    ids=["ff-fe", "lone-continuation", "truncated", "overlong", "encoded-surrogate", "five-bytes"],
)
@pytest.mark.parametrize("where", ["metadata-value", "metadata-key", "message-text"])
def test_invalid_utf8_in_a_json_body_is_a_400_and_writes_nothing(api, project, bad, where):
    before = row_counts()
    body = {
        "metadata-value": b'{"metadata": {"k": "a' + bad + b'"}}',
        "metadata-key": b'{"metadata": {"a' + bad + b'": "v"}}',
        "message-text": b'{"items": [{"role": "user", "content": "a' + bad + b'"}]}',
    }[where]
    response = api.generic("POST", "/v1/conversations", body, content_type="application/json")
    error = assert_api_error(response, 400, code="invalid_json")
    assert "utf-8" in error["message"].lower()
    assert row_counts() == before


@pytest.mark.parametrize(
    ("metadata", "code"),
    [
        ({"k" * 100_000: "v"}, "string_above_max_length"),
        ({"k": "v" * 1_000_000}, "string_above_max_length"),
        ({f"k{n}": "v" for n in range(10_000)}, "object_above_max_properties"),
    ],
    ids=["100k-character-key", "1M-character-value", "10k-pairs"],
)
@pytest.mark.parametrize("write", ["create", "update"])
def test_huge_metadata_is_a_400_with_a_short_message(api, project, metadata, code, write):
    conversation = make_conversation(project, metadata={"kept": "yes"})
    url = "/v1/conversations" if write == "create" else f"/v1/conversations/{conversation.public_id}"
    assert_api_error(api.post(url, {"metadata": metadata}, format="json"), 400, param="metadata", code=code)
    conversation.refresh_from_db()
    assert (Conversation.objects.count(), conversation.metadata) == (1, {"kept": "yes"})


def test_a_number_too_large_for_json_is_a_400(api, project):
    # 1e400 would parse as float infinity, which JSON cannot carry back out: refused as it is read.
    before = row_counts()
    raw = b'{"items": [{"type": "tool_search_call", "execution": "server", "arguments": {"x": 1e400}}]}'
    response = api.generic("POST", "/v1/conversations", raw, content_type="application/json")
    error = assert_api_error(response, 400, code="invalid_json")
    assert "too large" in error["message"]
    assert row_counts() == before


def test_an_integer_of_5000_digits_is_a_400(api, project):
    before = row_counts()
    raw = b'{"items": [{"type": "tool_search_call", "execution": "server", "arguments": {"x": ' + b"9" * 5000 + b"}}]}"
    response = api.generic("POST", "/v1/conversations", raw, content_type="application/json")
    assert_api_error(response, 400, code="invalid_json")
    assert row_counts() == before


@pytest.mark.parametrize("item_type", [{}, [], 5, True, None], ids=["object", "array", "number", "boolean", "null"])
def test_an_item_type_that_is_not_a_string_is_a_400(api, project, item_type):
    # Found by schemathesis: {"type": {}} was a 500 (an unhashable dict used as a lookup key).
    # (With only an `id`, a null `type` is an item reference: tests/api/test_item_reference.py.)
    before = row_counts()
    response = api.post("/v1/conversations", {"items": [{"type": item_type, "id": "x", "role": "user"}]},
                        format="json")
    assert_api_error(response, 400, param="items[0].type", code="invalid_type")
    assert row_counts() == before
