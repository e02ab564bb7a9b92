"""The API keys page (/api-keys/), admins only: create (the secret shown once), list, revoke."""

import re

import pytest
from rest_framework.test import APIClient

from conversations.models import ApiKey, AuditEvent, Project
from tests.dashboard.helpers import login_redirect
from tests.factories import make_api_key, make_conversation

pytestmark = pytest.mark.django_db

URL = "/api-keys/"
NEW_SECRET = re.compile(r'<code class="mono" id="new-secret">([^<]+)</code>')


def revoke_url(key: ApiKey) -> str:
    return f"{URL}{key.prefix}/revoke/"


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def create(client, **data) -> str:
    """Create a key from the page; returns the secret the page shows after the redirect."""
    response = client.post(URL, data)
    assert (response.status_code, response["Location"]) == (302, URL)
    page = client.get(URL).content.decode()
    return NEW_SECRET.search(page).group(1)


def test_reloading_after_creating_a_key_neither_makes_another_nor_shows_the_secret_again(admin_client_, project):
    from conversations.models import ApiKey

    secret = create(admin_client_, project=project.pk, name="once")
    assert ApiKey.objects.count() == 1
    assert secret not in admin_client_.get(URL).content.decode()


# --- who may -------------------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get(URL)
    assert (response.status_code, response["Location"]) == (302, login_redirect(URL))


@pytest.mark.parametrize("who", ["viewer_client", "operator_client"])
def test_viewers_and_operators_get_403_everywhere(request, who, project, api_key):
    client = request.getfixturevalue(who)
    key, _ = api_key
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"project": project.pk, "name": "sneaky"}).status_code == 403
    assert client.get(revoke_url(key)).status_code == 403
    assert client.post(revoke_url(key)).status_code == 403
    assert ApiKey.objects.count() == 1
    key.refresh_from_db()
    assert key.revoked_at is None


@pytest.mark.parametrize("who", ["viewer_client", "operator_client"])
def test_only_admins_see_the_nav_link(request, who):
    assert f'href="{URL}"' not in request.getfixturevalue(who).get("/").content.decode()


def test_admins_see_the_nav_link(admin_client_):
    assert f'<a href="{URL}">API keys</a>' in admin_client_.get("/").content.decode()


# --- the list ------------------------------------------------------------------------------------


def test_the_list_shows_prefix_label_project_and_state_but_never_the_secret(admin_client_, api_key):
    key, secret = api_key
    page = admin_client_.get(URL).content.decode()
    assert f'<td class="mono">{key.prefix}…</td><td>test</td><td>acme</td>' in page
    assert "never" in page and "active" in page
    assert secret not in page
    assert secret[len(key.prefix):] not in page
    assert key.secret_hash not in page


def test_an_empty_list_says_so(admin_client_):
    assert "No keys yet." in admin_client_.get(URL).content.decode()


# --- create --------------------------------------------------------------------------------------


def test_creating_a_key_shows_its_secret_once(admin_client_, admin_user, project):
    secret = create(admin_client_, project=project.pk, name="zapier")
    key = ApiKey.objects.get(name="zapier")
    assert (key.project, secret.startswith(key.prefix)) == (project, True)
    assert secret.startswith("cvs_")
    event = AuditEvent.objects.get(action="api_key.create", actor_user=admin_user)
    assert event.details["prefix"] == key.prefix
    again = admin_client_.get(URL).content.decode()
    assert secret not in again
    assert f"{key.prefix}…" in again


def test_the_new_secret_works_against_the_api(admin_client_, project):
    conversation = make_conversation(project)
    secret = create(admin_client_, project=project.pk, name="zapier")
    response = bearer(secret).get("/v1/conversations")
    assert response.status_code == 200
    assert [c["id"] for c in response.json()["data"]] == [conversation.public_id]
    assert ApiKey.objects.get(name="zapier").last_used_at is not None


def test_a_key_for_a_new_project_creates_the_project(admin_client_):
    secret = create(admin_client_, new_project="  initech  ", name="")
    project = Project.objects.get(name="initech")
    assert ApiKey.objects.get().project == project
    assert bearer(secret).post("/v1/conversations", {}, format="json").status_code == 200


def test_a_key_needs_a_project(admin_client_):
    response = admin_client_.post(URL, {"name": "orphan"})
    assert response.status_code == 200
    assert "Choose a project or name a new one." in response.content.decode()
    assert "<details open>" in response.content.decode()
    assert not ApiKey.objects.exists()
    assert NEW_SECRET.search(response.content.decode()) is None


def test_an_over_long_project_name_is_refused(admin_client_):
    response = admin_client_.post(URL, {"new_project": "p" * 101})
    assert response.status_code == 200
    assert not ApiKey.objects.exists() and not Project.objects.exists()


# --- revoke --------------------------------------------------------------------------------------


def test_revoking_first_asks_for_confirmation(admin_client_, api_key):
    key, secret = api_key
    response = admin_client_.get(revoke_url(key))
    assert response.status_code == 200
    page = response.content.decode()
    assert f"Revoke API key {key.prefix}…?" in page
    assert "Requests of project acme using this key will answer 401 at once." in page
    assert f'<a href="{URL}" role="button"' in page
    key.refresh_from_db()
    assert key.revoked_at is None
    assert bearer(secret).get("/v1/conversations").status_code == 200


def test_confirming_revokes_the_key_and_it_then_answers_401(admin_client_, admin_user, api_key):
    key, secret = api_key
    assert bearer(secret).get("/v1/conversations").status_code == 200
    response = admin_client_.post(revoke_url(key), follow=True)
    assert response.redirect_chain == [(URL, 302)]
    page = response.content.decode()
    assert f"Revoked key {key.prefix}…; requests using it now answer 401." in page
    assert "revoked <time" in page
    assert revoke_url(key) not in page
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditEvent.objects.filter(action="api_key.revoke", actor_user=admin_user).count() == 1
    assert bearer(secret).get("/v1/conversations").status_code == 401


def test_revoking_leaves_other_keys_working(admin_client_, api_key, other_api_key):
    admin_client_.post(revoke_url(api_key[0]))
    assert bearer(other_api_key[1]).get("/v1/conversations").status_code == 200


def test_revoking_twice_is_harmless(admin_client_, api_key):
    admin_client_.post(revoke_url(api_key[0]))
    admin_client_.post(revoke_url(api_key[0]))
    assert AuditEvent.objects.filter(action="api_key.revoke").count() == 1


def test_an_unknown_prefix_is_404_to_look_at_and_an_error_to_revoke(admin_client_, project):
    make_api_key(project)
    assert admin_client_.get(f"{URL}cvs_nope/revoke/").status_code == 404
    response = admin_client_.post(f"{URL}cvs_nope/revoke/", follow=True)
    assert response.redirect_chain == [(URL, 302)]
    assert "No API key with prefix" in response.content.decode()
    assert ApiKey.objects.active().count() == 1
