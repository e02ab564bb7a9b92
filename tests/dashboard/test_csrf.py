"""Every console POST needs a CSRF token: without one it answers 403 and changes nothing; with the
form field or htmx's X-CSRFToken header (from hx-headers on <body>) it goes through."""

import json
import re

import pytest

from conversations.models import ApiKey, AuditEvent, Conversation, Item
from tests.dashboard.helpers import HX, console_client

pytestmark = pytest.mark.django_db

# endpoint -> the role that may use it
ENDPOINTS = {
    "metadata edit": "operator",
    "item delete": "operator",
    "conversation delete": "operator",
    "bulk delete": "operator",
    "api key create": "admin",
    "api key revoke": "admin",
    "logout": "viewer",
}


def post_to(console_objects, endpoint: str) -> tuple[str, dict]:
    conversation, item = console_objects.conversation, console_objects.item
    base = f"/conversations/{conversation.public_id}/"
    return {
        "metadata edit": (f"{base}metadata/", {"key": ["a"], "value": ["2"]}),
        "item delete": (f"{base}items/{item.public_id}/delete/", {}),
        "conversation delete": (f"{base}delete/", {}),
        "bulk delete": ("/conversations/delete/", {"ids": [conversation.public_id], "confirm": "yes"}),
        "api key create": ("/api-keys/", {"project": console_objects.project.pk, "name": "new"}),
        "api key revoke": (f"/api-keys/{console_objects.key.prefix}/revoke/", {}),
        "logout": ("/accounts/logout/", {}),
    }[endpoint]


def snapshot() -> tuple:
    """Everything a console POST could change."""
    return (
        list(Conversation.objects.order_by("pk").values_list("public_id", "metadata", "item_count")),
        list(Item.objects.order_by("pk").values_list("public_id", flat=True)),
        list(ApiKey.objects.order_by("pk").values_list("prefix", "revoked_at")),
        AuditEvent.objects.count(),
    )


def csrf_token(client) -> str:
    """The token htmx sends: the one base.html puts in hx-headers on <body>."""
    page = client.get("/").content.decode()
    return json.loads(re.search(r"<body hx-headers='([^']+)'>", page).group(1))["X-CSRFToken"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("from_htmx", [False, True], ids=["form", "htmx"])
def test_a_post_without_a_token_is_refused_and_changes_nothing(console_objects, endpoint, from_htmx):
    client = console_client(ENDPOINTS[endpoint], enforce_csrf_checks=True)
    client.get("/")  # the session has a CSRF cookie; the POST just does not carry the token
    before = snapshot()
    path, data = post_to(console_objects, endpoint)
    response = client.post(path, data, headers=HX if from_htmx else {})
    assert response.status_code == 403
    assert "CSRF verification failed" in response.content.decode()
    assert snapshot() == before
    assert client.get("/").status_code == 200  # still logged in


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_wrong_token_is_refused_too(console_objects, endpoint):
    client = console_client(ENDPOINTS[endpoint], enforce_csrf_checks=True)
    client.get("/")
    before = snapshot()
    path, data = post_to(console_objects, endpoint)
    response = client.post(path, {**data, "csrfmiddlewaretoken": "x" * 64})
    assert response.status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_post_with_the_form_token_goes_through(console_objects, endpoint):
    client = console_client(ENDPOINTS[endpoint], enforce_csrf_checks=True)
    before = snapshot()
    path, data = post_to(console_objects, endpoint)
    response = client.post(path, {**data, "csrfmiddlewaretoken": csrf_token(client)})
    assert response.status_code in (200, 302)
    if endpoint == "logout":
        assert client.get("/").status_code == 302
    else:
        assert snapshot() != before


@pytest.mark.parametrize("endpoint", ["metadata edit", "item delete", "conversation delete"])
def test_htmx_posts_carry_the_token_from_hx_headers(console_objects, endpoint):
    client = console_client(ENDPOINTS[endpoint], enforce_csrf_checks=True)
    before = snapshot()
    path, data = post_to(console_objects, endpoint)
    response = client.post(path, data, headers={**HX, "X-CSRFToken": csrf_token(client)})
    assert response.status_code == 200
    assert snapshot() != before


def test_the_login_form_needs_a_token_too(db):
    from django.test import Client

    from tests.factories import make_user

    make_user("lena", "viewer")
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "lena", "password": "pw-lena"})
    assert response.status_code == 403
    assert client.get("/").status_code == 302
