import pytest
from django.core.management import CommandError, call_command

from conversations import services
from conversations.models import ApiKey, Project

pytestmark = pytest.mark.django_db


def run(*args) -> list[str]:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_create_api_key_makes_the_project_and_prints_the_secret_last():
    lines = run("create_api_key", "--project", "newco", "--name", "zendesk")
    secret = lines[-1]
    key = ApiKey.objects.get()
    assert key.project == Project.objects.get(name="newco")
    assert key.name == "zendesk"
    assert secret.startswith(key.prefix) and " " not in secret
    assert services.apikey_authenticate(secret) == key
    assert secret not in key.secret_hash


def test_create_api_key_reuses_an_existing_project(project):
    run("create_api_key", "--project", project.name)
    assert Project.objects.count() == 1


def test_create_api_key_refuses_a_blank_project():
    with pytest.raises(CommandError):
        run("create_api_key", "--project", "  ")


def test_revoke_api_key_by_prefix(project):
    key, secret = services.apikey_create(project=project, actor=services.SYSTEM)
    lines = run("revoke_api_key", key.prefix)
    assert "Revoked" in lines[-1]
    assert services.apikey_authenticate(secret) is None


def test_revoke_an_unknown_prefix_is_a_clear_error():
    with pytest.raises(CommandError, match="No API key"):
        run("revoke_api_key", "cvs_nope")


def test_setup_demo_loads_data_once_and_prints_working_credentials(tmp_path, monkeypatch, client):
    from conversations.management.commands import setup_demo

    monkeypatch.setattr(setup_demo, "CREDENTIALS_FILE", tmp_path / "creds.json")
    first = run("setup_demo")
    again = run("setup_demo")
    assert first == again
    assert Project.objects.get(name="demo").conversations.count() == len(setup_demo.DEMO_CONVERSATIONS)
    secret = next(line.split(": ", 1)[1] for line in first if "API key" in line)
    assert services.apikey_authenticate(secret) is not None
    logins = [line.split(": ", 1)[1].split()[:3] for line in first if "console login" in line]
    assert [login[0] for login in logins] == ["viewer", "operator", "admin"]
    for username, _, password in logins:
        assert client.login(username=username, password=password)
        assert client.get("/").status_code == 200


def test_seed_fills_a_project_with_valid_varied_conversations():
    from conversations import item_rules, search_text
    from conversations.models import Conversation, Item

    lines = run("seed", "--conversations", "30", "--items-per-conversation", "7", "--project", "load",
                "--no-progress")
    assert "Seeded 30 conversations and 210 items" in lines[-1]
    project = Project.objects.get(name="load")
    assert Conversation.objects.filter(project=project).count() == 30
    items = Item.objects.filter(conversation__project=project)
    assert items.count() == 210
    assert {"message", "function_call", "function_call_output"} <= set(items.values_list("type", flat=True))
    for conversation in Conversation.objects.filter(project=project)[:5]:
        assert {"user_id", "plan", "channel"} <= conversation.metadata.keys()
        positions = list(conversation.items.order_by("position").values_list("position", flat=True))
        assert positions == list(range(7)) and conversation.next_position == conversation.item_count == 7
    for item in items[:50]:
        # What the seeder writes is exactly what the API would have stored for it.
        assert item_rules.normalize_item(item.body, param="items[0]").body == item.body
        assert item.text == search_text.extract_text(item.body)


def test_seed_refuses_nonsense_sizes():
    with pytest.raises(CommandError):
        run("seed", "--conversations", "0")


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_seed_with_several_workers_writes_every_conversation_once():
    from conversations.models import Conversation, Item

    lines = run("seed", "--conversations", "45", "--items-per-conversation", "3", "--workers", "2",
                "--batch", "10", "--no-progress")
    assert "2 worker(s)" in lines[-1]
    assert Conversation.objects.count() == 45
    assert Item.objects.count() == 135
    assert Conversation.objects.values("public_id").distinct().count() == 45
