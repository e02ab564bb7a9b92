import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def test_set_role_creates_a_user_and_switches_roles(client):
    call_command("set_role", "alice", "viewer", "--create", "--password", "pw-alice-123")
    alice = User.objects.get(username="alice")
    assert list(alice.groups.values_list("name", flat=True)) == ["viewer"]
    call_command("set_role", "alice", "operator")
    assert list(alice.groups.values_list("name", flat=True)) == ["operator"]
    assert client.login(username="alice", password="pw-alice-123")
    assert client.get("/").status_code == 200


def test_set_role_needs_create_for_an_unknown_user():
    with pytest.raises(CommandError, match="--create"):
        call_command("set_role", "nobody", "viewer")
