"""Acceptance tests: the real `openai` package, over real HTTP, against pytest-django's live server.

Every client is strict (`_strict_response_validation=True`): the SDK checks each response
against its own models, so any drift in a returned shape fails loudly. Clients do not retry
(`max_retries=0`) unless a test builds one that does on purpose (`counting_sdk`).

The ORM is only touched from sync fixtures and sync tests: Django refuses ORM calls from
inside a running event loop, so async tests get their key from a sync fixture and check
the server's state through the SDK.
"""

from collections.abc import AsyncIterator, Iterator

import pytest
from openai import AsyncOpenAI, OpenAI

from tests.factories import make_api_key, make_project

# The shared assertions live in helpers.py: have pytest explain their failures too.
pytest.register_assert_rewrite("tests.sdk.helpers")

from tests.sdk.helpers import RequestLog, make_async_client, make_client  # noqa: E402


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def base_url(live_server) -> str:
    return live_server.url + "/v1"


@pytest.fixture
def sdk_project(live_server):
    # live_server implies transactional_db: the server thread sees committed rows only.
    return make_project("acme")


@pytest.fixture
def other_sdk_project(live_server):
    return make_project("globex")


@pytest.fixture
def secret(sdk_project) -> str:
    """The plain API key of project "acme"."""
    return make_api_key(sdk_project)[1]


@pytest.fixture
def other_secret(other_sdk_project) -> str:
    """The plain API key of project "globex"."""
    return make_api_key(other_sdk_project)[1]


@pytest.fixture
def sdk(base_url, secret) -> Iterator[OpenAI]:
    """A strict sync client authenticated as project "acme"."""
    with make_client(base_url, secret) as sdk:
        yield sdk


@pytest.fixture
def other_sdk(base_url, other_secret) -> Iterator[OpenAI]:
    """A strict sync client authenticated as project "globex"."""
    with make_client(base_url, other_secret) as sdk:
        yield sdk


@pytest.fixture
def requests_log() -> RequestLog:
    return RequestLog()


@pytest.fixture
def counting_sdk(base_url, secret, requests_log) -> Iterator[OpenAI]:
    """A strict sync client with the SDK's default retries (2) that logs every request it sends."""
    with make_client(base_url, secret, max_retries=2, log=requests_log) as sdk:
        yield sdk


@pytest.fixture
async def async_sdk(base_url, secret) -> AsyncIterator[AsyncOpenAI]:
    """A strict async client authenticated as project "acme"."""
    async with make_async_client(base_url, secret) as sdk:
        yield sdk


@pytest.fixture
async def other_async_sdk(base_url, other_secret) -> AsyncIterator[AsyncOpenAI]:
    """A strict async client authenticated as project "globex"."""
    async with make_async_client(base_url, other_secret) as sdk:
        yield sdk


@pytest.fixture
async def counting_async_sdk(base_url, secret, requests_log) -> AsyncIterator[AsyncOpenAI]:
    """A strict async client with the SDK's default retries (2) that logs every request it sends."""
    async with make_async_client(base_url, secret, max_retries=2, log=requests_log) as sdk:
        yield sdk
