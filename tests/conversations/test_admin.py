"""The Django admin is a front door like the API and the console: conversations and items are
read-only there, and its deletes, key revocations and project edits go through the same services
and validators (counts, audit rows with the admin user as actor)."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.urls import reverse

from conversations import services
from conversations.models import ApiKey, AuditEvent, Conversation, Item, Project
from tests.factories import make_conversation, make_messages


@pytest.fixture
def root(db):
    return User.objects.create_superuser("root", "root@example.com", "pw-root")


@pytest.fixture
def superuser_client(client, root):
    client.force_login(root)
    return client


@pytest.fixture
def conversation(project):
    return make_conversation(project, items=make_messages(3), metadata={"ticket": "T-1"})


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:conversations_{model._meta.model_name}_{view}", args=args)


def _console_answers(client, *conversations):
    """The console's search page and each conversation's page, as any user sees them."""
    assert client.get(reverse("dashboard:conversation-list")).status_code == 200
    for conversation in conversations:
        assert client.get(reverse("dashboard:conversation-detail", args=[conversation.public_id])).status_code == 200


def _change_form(metadata: str) -> dict:
    return {"metadata": metadata, "items-TOTAL_FORMS": "0", "items-INITIAL_FORMS": "0",
            "items-MIN_NUM_FORMS": "0", "items-MAX_NUM_FORMS": "0"}


# --- conversations and items are read-only ---------------------------------------------------------


@pytest.mark.parametrize("metadata", ["[1, 2, 3]", "{" + ", ".join(f'"k{n}": "v"' for n in range(20)) + "}"])
def test_it_refuses_to_change_conversation_metadata(superuser_client, conversation, metadata):
    response = superuser_client.post(_url(Conversation, "change", conversation.pk),
                                     _change_form(metadata))

    assert response.status_code == 403
    conversation.refresh_from_db()
    assert conversation.metadata == {"ticket": "T-1"}
    _console_answers(superuser_client, conversation)


def test_it_shows_a_conversation_read_only(superuser_client, conversation):
    response = superuser_client.get(_url(Conversation, "change", conversation.pk))

    assert response.status_code == 200
    assert b'name="metadata"' not in response.content
    assert b"T-1" in response.content


def test_it_refuses_to_add_a_conversation(superuser_client, project):
    response = superuser_client.post(_url(Conversation, "add"), {"project": project.pk, "metadata": "[1]"})

    assert response.status_code == 403
    assert not Conversation.objects.exists()


def test_it_refuses_to_change_or_add_an_item(superuser_client, conversation):
    item = conversation.items.first()

    assert superuser_client.post(_url(Item, "change", item.pk), {"type": "x", "body": "[]"}).status_code == 403
    assert superuser_client.post(_url(Item, "add"), {"conversation": conversation.pk}).status_code == 403
    item.refresh_from_db()
    assert item.type == "message"


# --- deletes go through the services ---------------------------------------------------------------


def _audit(action: str, conversation: Conversation) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, conversation_id=conversation.public_id))


def test_deleting_an_item_decrements_the_count_and_audits_the_admin_user(superuser_client, root, conversation):
    item = conversation.items.order_by("position")[1]

    confirm = superuser_client.get(_url(Item, "delete", item.pk))
    response = superuser_client.post(_url(Item, "delete", item.pk), {"post": "yes"})

    assert confirm.status_code == 200
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.item_count == 2
    assert not Item.objects.filter(pk=item.pk).exists()
    [event] = _audit(AuditEvent.Action.ITEM_DELETE, conversation)
    assert event.item_ids == [item.public_id]
    assert (event.actor_user, event.actor_label) == (root, "user:root")
    _console_answers(superuser_client, conversation)


def test_deleting_selected_items_decrements_each_count(superuser_client, root, project, conversation):
    other = make_conversation(project, items=make_messages(2))
    chosen = [conversation.items.order_by("position")[0], *other.items.all()]
    form = {"action": "delete_selected", "_selected_action": [item.pk for item in chosen]}

    confirm = superuser_client.post(_url(Item, "changelist"), form)
    response = superuser_client.post(_url(Item, "changelist"), {**form, "post": "yes"})

    assert confirm.status_code == 200
    assert response.status_code == 302
    conversation.refresh_from_db()
    other.refresh_from_db()
    assert (conversation.item_count, other.item_count) == (2, 0)
    assert conversation.items.count() == 2 and other.items.count() == 0
    events = _audit(AuditEvent.Action.ITEM_DELETE, conversation) + _audit(AuditEvent.Action.ITEM_DELETE, other)
    assert sorted(id for event in events for id in event.item_ids) == sorted(item.public_id for item in chosen)
    assert {event.actor_user for event in events} == {root}
    _console_answers(superuser_client, conversation, other)


def test_deleting_a_conversation_removes_its_items_and_audits_the_admin_user(superuser_client, root, project,
                                                                              conversation):
    survivor = make_conversation(project, items=make_messages(1))

    confirm = superuser_client.get(_url(Conversation, "delete", conversation.pk))
    response = superuser_client.post(_url(Conversation, "delete", conversation.pk), {"post": "yes"})

    assert confirm.status_code == 200
    assert b"3 items" in confirm.content or b"Items: 3" in confirm.content
    assert response.status_code == 302
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not Item.objects.filter(conversation_id=conversation.pk).exists()
    [event] = _audit(AuditEvent.Action.CONVERSATION_DELETE, conversation)
    assert event.details == {"items_deleted": 3}
    assert (event.actor_user, event.actor_label) == (root, "user:root")
    _console_answers(superuser_client, survivor)


def test_deleting_selected_conversations_audits_each(superuser_client, root, project, conversation):
    other = make_conversation(project, items=make_messages(2))
    survivor = make_conversation(project, items=make_messages(1))
    form = {"action": "delete_selected", "_selected_action": [conversation.pk, other.pk]}

    confirm = superuser_client.post(_url(Conversation, "changelist"), form)
    response = superuser_client.post(_url(Conversation, "changelist"), {**form, "post": "yes"})

    assert confirm.status_code == 200
    assert response.status_code == 302
    assert list(Conversation.objects.values_list("pk", flat=True)) == [survivor.pk]
    assert list(Item.objects.values_list("conversation_id", flat=True)) == [survivor.pk]
    for gone, items in ((conversation, 3), (other, 2)):
        [event] = _audit(AuditEvent.Action.CONVERSATION_DELETE, gone)
        assert event.details == {"items_deleted": items}
        assert event.actor_user == root
    _console_answers(superuser_client, survivor)


# --- API keys: revoked through the service, never edited or deleted ---------------------------------


def test_it_refuses_to_edit_an_api_key(superuser_client, api_key, other_project):
    key, _ = api_key
    services.apikey_revoke(prefix=key.prefix, actor=services.SYSTEM)

    response = superuser_client.post(_url(ApiKey, "change", key.pk),
                                     {"project": other_project.pk, "name": "moved", "revoked_at_0": "",
                                      "revoked_at_1": ""})

    assert response.status_code == 403
    key.refresh_from_db()
    assert (key.project_id, key.name, key.is_active) == (api_key[0].project_id, "test", False)


def test_it_refuses_to_add_or_delete_an_api_key(superuser_client, api_key, project):
    key, _ = api_key

    assert superuser_client.post(_url(ApiKey, "add"), {"project": project.pk, "prefix": "cvs_x"}).status_code == 403
    assert superuser_client.post(_url(ApiKey, "delete", key.pk), {"post": "yes"}).status_code == 403
    assert ApiKey.objects.filter(pk=key.pk).exists()
    assert ApiKey.objects.count() == 1


def test_revoking_selected_keys_goes_through_the_service(superuser_client, root, api, api_key, project):
    key, _ = api_key

    response = superuser_client.post(_url(ApiKey, "changelist"),
                                     {"action": "revoke_selected", "_selected_action": [key.pk]})

    assert response.status_code == 302
    key.refresh_from_db()
    assert not key.is_active
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.API_KEY_REVOKE)
    assert event.details == {"prefix": key.prefix}
    assert (event.actor_user, event.project_id) == (root, project.pk)
    assert api.get("/v1/conversations").status_code == 401


# --- audit events: read-only, never deleted ------------------------------------------------------


def test_it_refuses_to_change_or_delete_an_audit_event(superuser_client, conversation):
    event = AuditEvent.objects.get()
    form = {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"}

    assert superuser_client.post(_url(AuditEvent, "change", event.pk), {"action": "x"}).status_code == 403
    assert superuser_client.post(_url(AuditEvent, "delete", event.pk), {"post": "yes"}).status_code == 403
    superuser_client.post(_url(AuditEvent, "changelist"), form)
    assert AuditEvent.objects.filter(pk=event.pk, action=AuditEvent.Action.CONVERSATION_CREATE).exists()


# --- projects: the same name rules as everywhere else ---------------------------------------------


@pytest.mark.parametrize("name", ["x" * 101, "   ", "acme"])
def test_it_refuses_a_project_name_the_services_refuse(superuser_client, project, other_project, name):
    response = superuser_client.post(_url(Project, "change", other_project.pk), {"name": name,
                                                                               "retention_days": ""})

    assert response.status_code == 200  # the form again, with its error
    assert response.context["adminform"].form.errors["name"]
    other_project.refresh_from_db()
    assert other_project.name == "globex"


def test_it_renames_a_project_and_sets_its_retention(superuser_client, other_project):
    response = superuser_client.post(_url(Project, "change", other_project.pk),
                                     {"name": "  initech ", "retention_days": "30"})

    assert response.status_code == 302
    other_project.refresh_from_db()
    assert (other_project.name, other_project.retention_days) == ("initech", 30)


def test_it_refuses_a_retention_of_zero_days(superuser_client, other_project):
    response = superuser_client.post(_url(Project, "add"), {"name": "initech", "retention_days": "0"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["retention_days"]
    assert not Project.objects.filter(name="initech").exists()


def test_it_refuses_to_delete_a_project(superuser_client, other_project, other_api_key):
    response = superuser_client.post(_url(Project, "delete", other_project.pk), {"post": "yes"})

    assert response.status_code == 403
    assert ApiKey.objects.filter(project=other_project).exists()


# --- every registered model's pages still render --------------------------------------------------


@pytest.fixture
def one_row_per_model(root, project, conversation, api_key):
    """One row of every model the admin shows."""
    return {
        Project: project,
        ApiKey: api_key[0],
        Conversation: conversation,
        Item: conversation.items.first(),
        AuditEvent: AuditEvent.objects.first(),
        User: root,
        Group: Group.objects.first(),
    }


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda model: model._meta.label)
def test_the_changelist_and_change_views_render(superuser_client, one_row_per_model, model):
    obj = one_row_per_model[model]
    app, name = model._meta.app_label, model._meta.model_name

    changelist = superuser_client.get(reverse(f"admin:{app}_{name}_changelist"))
    searched = superuser_client.get(reverse(f"admin:{app}_{name}_changelist"), {"q": "T-1"})
    change = superuser_client.get(reverse(f"admin:{app}_{name}_change", args=[obj.pk]))

    assert (changelist.status_code, searched.status_code, change.status_code) == (200, 200, 200)
