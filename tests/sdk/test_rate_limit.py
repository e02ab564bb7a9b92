"""The rate limit as the real `openai` SDK meets it: a RateLimitError, or a retry after `retry-after`."""

import itertools
import time

import pytest
from openai import RateLimitError

from api.throttling import ApiKeyRateThrottle
from conversations.models import Conversation


def test_over_the_limit_the_sdk_raises_a_rate_limit_error(sdk, settings, monkeypatch):
    settings.CONVOSCOPE_API_RATE_LIMIT = "2/minute"
    monkeypatch.setattr(ApiKeyRateThrottle, "timer", staticmethod(lambda: 1_000_000.0))  # all in one minute
    sdk.conversations.create()
    sdk.conversations.create()

    with pytest.raises(RateLimitError) as raised:  # the `sdk` fixture does not retry (max_retries=0)
        sdk.conversations.create(metadata={"k": "v"})

    exc = raised.value
    assert exc.status_code == 429
    assert (exc.type, exc.param, exc.code) == ("requests", None, "rate_limit_exceeded")
    assert exc.message.startswith("Error code: 429 - ")
    assert exc.request_id.startswith("req_")
    assert 1 <= int(exc.response.headers["retry-after"]) <= 60
    assert Conversation.objects.count() == 2


def test_the_sdk_waits_for_retry_after_and_then_succeeds(counting_sdk, requests_log, settings, monkeypatch):
    settings.CONVOSCOPE_API_RATE_LIMIT = "2/second"
    # The throttle's clock: the first three requests in the same instant, later ones a second on.
    calls = itertools.count(1)
    monkeypatch.setattr(ApiKeyRateThrottle, "timer", staticmethod(lambda: 1_000_000.0 + (next(calls) > 3)))
    counting_sdk.conversations.create()
    counting_sdk.conversations.create()
    requests_log.clear()

    started = time.monotonic()
    conversation = counting_sdk.conversations.create(metadata={"third": "yes"})

    assert conversation.metadata == {"third": "yes"}
    assert [request.retry_count for request in requests_log] == ["0", "1"]  # one 429, then the retry
    assert time.monotonic() - started >= 0.9  # it waited the 1 s the server asked for
    assert Conversation.objects.count() == 3
