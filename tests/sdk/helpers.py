"""Helpers shared by the SDK tests: strict clients, a request log, the eight calls, assertions."""

import time
from typing import NamedTuple

import httpx2
import openai
from openai import APIStatusError, AsyncOpenAI, OpenAI
from openai.types.conversations import Conversation, Message
from openai.types.responses import ResponseInputText, ResponseOutputText

# Django's live server writes a response's headers and body in two small TCP sends; on a
# kept-alive connection the second waits for the client's delayed ACK (Nagle), ~40 ms per
# request. Fresh connections are acknowledged at once: 10x faster, and still real HTTP.
NO_KEEPALIVE = httpx2.Limits(max_connections=100, max_keepalive_connections=0)


class SentRequest(NamedTuple):
    method: str
    path: str
    params: dict[str, list[str]]
    retry_count: str | None


class RequestLog(list[SentRequest]):
    """What an httpx event hook saw leave the client, one entry per HTTP request (retries included)."""

    def record(self, request) -> None:
        params: dict[str, list[str]] = {}
        for key, value in request.url.params.multi_items():
            params.setdefault(key, []).append(value)
        retry_count = request.headers.get("x-stainless-retry-count")
        self.append(SentRequest(request.method, request.url.path, params, retry_count))

    async def arecord(self, request) -> None:
        self.record(request)


def make_client(base_url: str, api_key: str, *, max_retries: int = 0, log: RequestLog | None = None,
                **kwargs) -> OpenAI:
    """A strict sync client; with `log`, every request it sends is recorded there."""
    hooks = {"request": [log.record]} if log is not None else {}
    http_client = openai.DefaultHttpxClient(limits=NO_KEEPALIVE, event_hooks=hooks)
    return OpenAI(base_url=base_url, api_key=api_key, _strict_response_validation=True, max_retries=max_retries,
                  http_client=http_client, **kwargs)


def make_async_client(base_url: str, api_key: str, *, max_retries: int = 0, log: RequestLog | None = None,
                      **kwargs) -> AsyncOpenAI:
    """A strict async client; with `log`, every request it sends is recorded there."""
    hooks = {"request": [log.arecord]} if log is not None else {}
    http_client = openai.DefaultAsyncHttpxClient(limits=NO_KEEPALIVE, event_hooks=hooks)
    return AsyncOpenAI(base_url=base_url, api_key=api_key, _strict_response_validation=True,
                       max_retries=max_retries, http_client=http_client, **kwargs)


def texts(items) -> list[str]:
    """The text of each (single-part) message, in the order given."""
    return [item.content[0].text for item in items]


def numbered_messages(count: int, start: int = 0) -> list[dict]:
    """User messages "m{start}" .. "m{start+count-1}" (at most 20 fit in one request)."""
    return [{"role": "user", "content": f"m{n}"} for n in range(start, start + count)]


def every_call(sdk: OpenAI, conversation_id: str, item_id: str) -> dict:
    """The eight SDK calls, ready to run against one conversation (and one of its items)."""
    conversations = sdk.conversations
    return {
        "conversations.create": lambda: conversations.create(metadata={"x": "y"}),
        **conversation_calls(sdk, conversation_id, item_id),
    }


def conversation_calls(sdk: OpenAI, conversation_id: str, item_id: str) -> dict:
    """The seven SDK calls that name a conversation (everything but conversations.create)."""
    conversations = sdk.conversations
    return {
        "conversations.retrieve": lambda: conversations.retrieve(conversation_id),
        "conversations.update": lambda: conversations.update(conversation_id, metadata={"x": "y"}),
        "items.create": lambda: conversations.items.create(
            conversation_id, items=[{"role": "user", "content": "intruder"}]
        ),
        "items.retrieve": lambda: conversations.items.retrieve(item_id, conversation_id=conversation_id),
        "items.list": lambda: conversations.items.list(conversation_id),
        "items.delete": lambda: conversations.items.delete(item_id, conversation_id=conversation_id),
        "conversations.delete": lambda: conversations.delete(conversation_id),
    }


# --- assertions ---------------------------------------------------------------------------------

HEX = set("0123456789abcdef")


def assert_conversation(conversation, *, metadata: dict) -> None:
    assert isinstance(conversation, Conversation)
    assert conversation.object == "conversation"
    assert conversation.id.startswith("conv_")
    assert len(conversation.id) == 5 + 48 and set(conversation.id[5:]) <= HEX
    assert isinstance(conversation.created_at, int)
    assert abs(conversation.created_at - time.time()) < 60
    assert conversation.metadata == metadata
    assert conversation._request_id and conversation._request_id.startswith("req_")


def assert_message(item, *, role: str, text: str) -> None:
    """A message stored from string content: completed, with the content normalised to one part."""
    assert isinstance(item, Message)
    assert item.type == "message"
    assert item.id.startswith("msg_")
    assert item.role == role
    assert item.status == "completed"
    assert len(item.content) == 1
    part = item.content[0]
    if role == "assistant":
        assert isinstance(part, ResponseOutputText)
        assert (part.type, part.text, part.annotations) == ("output_text", text, [])
    else:
        assert isinstance(part, ResponseInputText)
        assert (part.type, part.text) == ("input_text", text)


def assert_openai_error(exc: APIStatusError, *, status: int, param: str | None, code: str | None,
                        where: str = "") -> None:
    """The SDK filled every field from an OpenAI-shaped error body (`where` labels a failure)."""
    assert exc.status_code == status, where
    assert exc.message.startswith(f"Error code: {status} - "), where
    assert isinstance(exc.body, dict), where
    assert set(exc.body) == {"message", "type", "param", "code"}, where
    assert isinstance(exc.body["message"], str) and exc.body["message"], where
    assert exc.type == "invalid_request_error", where
    assert exc.param == param, where
    assert exc.code == code, where
    assert exc.request_id and exc.request_id.startswith("req_"), where
    assert exc.response.headers["content-type"].startswith("application/json"), where
