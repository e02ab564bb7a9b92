"""Who may open what: every console URL for anonymous users, users without a role, and the viewer,
operator and admin roles of dashboard/roles.py; and the groups behind those roles."""

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from dashboard import roles
from dashboard import urls as dashboard_urls
from tests.dashboard.helpers import console_client, login_redirect
from tests.factories import make_user

pytestmark = pytest.mark.django_db

EVERYONE = {"viewer", "operator", "admin"}
OPERATORS = {"operator", "admin"}
ADMINS = {"admin"}

# (url name, method, the roles that may, the permission dashboard/roles.py guards it with)
ACCESS = [
    ("conversation-list", "get", EVERYONE, roles.VIEW),
    ("conversation-detail", "get", EVERYONE, roles.VIEW),
    ("item-detail", "get", EVERYONE, roles.VIEW),
    ("conversation-download", "get", EVERYONE, roles.VIEW),
    ("conversation-list-download", "get", EVERYONE, roles.VIEW),
    ("overview", "get", EVERYONE, roles.VIEW),
    ("audit-log", "get", EVERYONE, roles.VIEW_AUDIT),
    ("metadata-edit", "get", OPERATORS, roles.EDIT_METADATA),
    ("metadata-edit", "post", OPERATORS, roles.EDIT_METADATA),
    ("item-delete", "get", OPERATORS, roles.DELETE_ITEM),
    ("item-delete", "post", OPERATORS, roles.DELETE_ITEM),
    ("conversation-delete", "get", OPERATORS, roles.DELETE_CONVERSATION),
    ("conversation-delete", "post", OPERATORS, roles.DELETE_CONVERSATION),
    ("conversation-bulk-delete", "post", OPERATORS, roles.DELETE_CONVERSATION),
    ("api-keys", "get", ADMINS, roles.MANAGE_KEYS),
    ("api-keys", "post", ADMINS, roles.MANAGE_KEYS),
    ("api-key-revoke", "get", ADMINS, roles.MANAGE_KEYS),
    ("api-key-revoke", "post", ADMINS, roles.MANAGE_KEYS),
]
ACCESS_IDS = [f"{method}-{name}" for name, method, _, _ in ACCESS]


def request_for(console_objects, name: str) -> tuple[str, dict]:
    """The URL of a console page, and the form data a POST to it would carry."""
    conversation, item, key = console_objects.conversation, console_objects.item, console_objects.key
    args = {
        "conversation-detail": [conversation.public_id],
        "conversation-download": [conversation.public_id],
        "metadata-edit": [conversation.public_id],
        "conversation-delete": [conversation.public_id],
        "item-detail": [conversation.public_id, item.public_id],
        "item-delete": [conversation.public_id, item.public_id],
        "api-key-revoke": [key.prefix],
    }.get(name, [])
    data = {
        "metadata-edit": {"key": ["a"], "value": ["1"]},
        "conversation-bulk-delete": {"ids": [conversation.public_id]},
        "api-keys": {"project": console_objects.project.pk, "name": "new"},
    }.get(name, {})
    return reverse(f"dashboard:{name}", args=args), data


def test_the_table_covers_every_console_url():
    assert {pattern.name for pattern in dashboard_urls.urlpatterns} == {name for name, _, _, _ in ACCESS}


@pytest.mark.parametrize(("name", "method", "allowed", "permission"), ACCESS, ids=ACCESS_IDS)
def test_the_table_agrees_with_dashboard_roles(name, method, allowed, permission):
    assert {role for role, perms in roles.ROLE_PERMISSIONS.items() if permission in perms} == allowed


@pytest.mark.parametrize(("name", "method", "allowed", "permission"), ACCESS, ids=ACCESS_IDS)
def test_anonymous_users_are_sent_to_log_in(client, console_objects, name, method, allowed, permission):
    path, data = request_for(console_objects, name)
    response = getattr(client, method)(path, data if method == "post" else None)
    assert response.status_code == 302
    assert response["Location"] == login_redirect(path)


@pytest.mark.parametrize(("name", "method", "allowed", "permission"), ACCESS, ids=ACCESS_IDS)
def test_users_without_a_role_get_403(console_objects, name, method, allowed, permission):
    path, data = request_for(console_objects, name)
    assert getattr(console_client(None), method)(path, data if method == "post" else None).status_code == 403


@pytest.mark.parametrize("role", sorted(EVERYONE))
@pytest.mark.parametrize(("name", "method", "allowed", "permission"), ACCESS, ids=ACCESS_IDS)
def test_each_role_is_allowed_or_gets_403(console_objects, role, name, method, allowed, permission):
    path, data = request_for(console_objects, name)
    response = getattr(console_client(role), method)(path, data if method == "post" else None)
    if role in allowed:
        assert response.status_code in ({200} if method == "get" else {200, 302})
    else:
        assert response.status_code == 403


def test_superusers_may_open_every_page(console_objects):
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="pw-root"))
    for name, method, _, _ in ACCESS:
        if method == "get":
            path, _ = request_for(console_objects, name)
            assert client.get(path).status_code == 200, name


def test_logging_in_leads_back_to_the_page_asked_for(client, project):
    make_user("lena", "viewer")
    response = client.post("/accounts/login/", {"username": "lena", "password": "pw-lena", "next": "/audit/"})
    assert (response.status_code, response["Location"]) == (302, "/audit/")
    assert client.get("/audit/").status_code == 200


def test_the_login_page_keeps_next(client):
    page = client.get(login_redirect("/audit/")).content.decode()
    assert '<input type="hidden" name="next" value="/audit/">' in page


def test_logging_out_takes_a_post(viewer_client):
    assert viewer_client.get("/accounts/logout/").status_code == 405
    assert viewer_client.get("/").status_code == 200
    viewer_client.post("/accounts/logout/")
    assert viewer_client.get("/").status_code == 302


def test_logging_out_lands_on_a_console_page(viewer_client):
    page = viewer_client.post("/accounts/logout/", follow=True).content.decode()
    assert "Django site admin" not in page
    assert 'action="/accounts/login/"' in page


# --- the groups -----------------------------------------------------------------------------------


def permissions_of(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


@pytest.mark.parametrize("role", sorted(EVERYONE))
def test_each_role_is_a_group_holding_exactly_its_permissions(db, role):
    assert permissions_of(role) == set(roles.ROLE_PERMISSIONS[role])


def test_viewers_only_read(db):
    assert all(".view_" in perm for perm in permissions_of("viewer"))
    assert {roles.VIEW, roles.VIEW_AUDIT} <= permissions_of("viewer")


def test_operators_edit_and_delete_but_do_not_manage_keys(db):
    operator = permissions_of("operator")
    assert permissions_of("viewer") < operator
    assert {roles.EDIT_METADATA, roles.DELETE_CONVERSATION, roles.DELETE_ITEM} <= operator
    assert not [perm for perm in operator if "apikey" in perm]
    assert not [perm for perm in operator if perm.endswith("_project") and ".view_" not in perm]


def test_admins_also_manage_keys_and_projects(db):
    admin = permissions_of("admin")
    assert permissions_of("operator") < admin
    assert {roles.MANAGE_KEYS, "conversations.add_project"} <= admin
