"""The small world every test shares: two projects (tenants), a key for each, API clients."""

import json
from pathlib import Path
from typing import NamedTuple

import pytest
from django.db import connection
from rest_framework.test import APIClient

from conversations.models import ApiKey, Conversation, Item, Project
from tests.factories import make_api_key, make_conversation, make_project, make_user

# The shared assertions live in helpers.py: have pytest explain their failures too.
pytest.register_assert_rewrite("tests.helpers")

ITEM_EXAMPLES = json.loads((Path(__file__).parent / "fixtures" / "item_examples.json").read_text())

# Fields the Node SDK declares required-but-nullable that a client may leave out: an item is
# returned with each of them, null when it was not sent (tests/sdk/test_node_types.py).
NODE_NULLS = {
    "shell_call": {"environment": None, "action": {"max_output_length": None, "timeout_ms": None}},
    "shell_call_output": {"max_output_length": None},
    "tool_search_call": {"call_id": None},
    "tool_search_output": {"call_id": None},
}


def with_node_nulls(item: dict) -> dict:
    """`item` (a dict with its `type`) with the NODE_NULLS it lacks, as the server returns it."""
    def merge(value: dict, nulls: dict) -> dict:
        merged = dict(value)
        for key, null in nulls.items():
            if isinstance(null, dict):
                if isinstance(merged.get(key), dict):
                    merged[key] = merge(merged[key], null)
            else:
                merged.setdefault(key, null)
        return merged

    return merge(item, NODE_NULLS.get(item.get("type"), {}))


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("postgres_only") and connection.vendor != "postgresql":
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: run with DATABASE_URL=postgres://..."))


@pytest.fixture
def project(db):
    return make_project("acme")


@pytest.fixture
def other_project(db):
    return make_project("globex")


@pytest.fixture
def api_key(project):
    return make_api_key(project)


@pytest.fixture
def other_api_key(other_project):
    return make_api_key(other_project)


@pytest.fixture
def conversation(project):
    """An empty conversation of project "acme"."""
    return make_conversation(project)


class ConsoleObjects(NamedTuple):
    project: Project
    conversation: Conversation
    item: Item
    key: ApiKey


@pytest.fixture
def console_objects(project) -> ConsoleObjects:
    """One of everything a console URL names, all of project "acme": a conversation (metadata
    a=1, two messages), its first item, and an API key."""
    conversation = make_conversation(project, metadata={"a": "1"},
                                     items=[{"role": "user", "content": "x"}, {"role": "user", "content": "y"}])
    key, _ = make_api_key(project)
    return ConsoleObjects(project, conversation, conversation.items.in_order().first(), key)


def _client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def api(api_key):
    """An API client authenticated as project "acme"."""
    return _client(api_key[1])


@pytest.fixture
def other_api(other_api_key):
    """An API client authenticated as project "globex"."""
    return _client(other_api_key[1])


@pytest.fixture
def viewer(db):
    return make_user("vera", "viewer")


@pytest.fixture
def operator(db):
    return make_user("otto", "operator")


@pytest.fixture
def admin_user(db):
    return make_user("ada", "admin")


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def admin_client_(client, admin_user):
    """A console client logged in with the admin role (not a Django superuser)."""
    client.force_login(admin_user)
    return client


@pytest.fixture
def item_examples():
    return ITEM_EXAMPLES


@pytest.fixture(autouse=True)
def _empty_cache(settings):
    """Counts kept in Django's cache (failed logins, rate limits) start from nothing in every
    test, in a private in-memory cache: a developer's REDIS_URL is never flushed by a test."""
    from django.core.cache import cache

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "convoscope-tests"}}
    cache.clear()


def pytest_sessionstart(session):
    # CI sets this on its PostgreSQL run: a suite that silently fell back to SQLite would prove nothing.
    import os

    from django.conf import settings

    if os.environ.get("CONVOSCOPE_REQUIRE_POSTGRES") and "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        raise pytest.UsageError("CONVOSCOPE_REQUIRE_POSTGRES is set but DATABASE_URL is not PostgreSQL")


@pytest.fixture(scope="module")
def scratch_database(django_db_setup, django_db_blocker):
    """A migrated database of its own (with an API key) for a server subprocess: a SQLite file, or
    on PostgreSQL a database beside the test database (tests/serving/served.py)."""
    from tests.serving.served import ScratchDatabase

    with django_db_blocker.unblock():
        postgres = connection.settings_dict if connection.vendor == "postgresql" else None
    scratch = ScratchDatabase(postgres)
    yield scratch
    scratch.drop()
