import pytest

from conversations import services
from conversations.errors import InvalidInput, NotFound
from conversations.models import AuditEvent, Conversation, Item
from tests.factories import append_messages, make_conversation, make_messages

pytestmark = pytest.mark.django_db


def positions(conversation):
    return list(Item.objects.filter(conversation=conversation).order_by("position").values_list("position", flat=True))


def test_appends_take_dense_increasing_positions(project):
    conversation = make_conversation(project, items=make_messages(3))
    append_messages(conversation, 25)
    assert positions(conversation) == list(range(28))
    conversation.refresh_from_db()
    assert (conversation.next_position, conversation.item_count) == (28, 28)


def test_a_bad_batch_writes_nothing(project):
    conversation = make_conversation(project, items=make_messages(2))
    with pytest.raises(InvalidInput):
        services.items_append(
            conversation=conversation, actor=services.SYSTEM,
            items=[{"role": "user", "content": "ok"}, {"type": "banana"}],
        )
    assert positions(conversation) == [0, 1]
    assert AuditEvent.objects.filter(action="items.create").count() == 0


def test_an_empty_append_is_refused(project):
    conversation = make_conversation(project)
    with pytest.raises(InvalidInput) as info:
        services.items_append(conversation=conversation, actor=services.SYSTEM, items=[])
    assert info.value.param == "items"


def test_a_client_id_already_in_the_conversation_is_refused(project, other_project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "x", "id": "msg_mine"}])
    with pytest.raises(InvalidInput) as info:
        services.items_append(
            conversation=conversation, actor=services.SYSTEM,
            items=[{"role": "user", "content": "y"}, {"role": "user", "content": "z", "id": "msg_mine"}],
        )
    assert (info.value.param, info.value.code) == ("items[1].id", "duplicate_id")
    assert Item.objects.filter(conversation=conversation).count() == 1
    # The same id in another conversation is fine.
    make_conversation(other_project, items=[{"role": "user", "content": "x", "id": "msg_mine"}])


def test_positions_are_never_reused_after_a_delete(project):
    conversation = make_conversation(project, items=make_messages(3))
    last = Item.objects.get(conversation=conversation, position=2)
    services.item_delete(conversation=conversation, actor=services.SYSTEM, item_id=last.public_id)
    append_messages(conversation, 1)
    assert positions(conversation) == [0, 1, 3]


def test_item_delete_returns_the_conversation_and_audits(project):
    conversation = make_conversation(project, items=make_messages(2))
    first = Item.objects.get(conversation=conversation, position=0)
    result = services.item_delete(conversation=conversation, actor=services.SYSTEM, item_id=first.public_id)
    assert result.public_id == conversation.public_id
    assert result.item_count == 1
    event = AuditEvent.objects.get(action="item.delete")
    assert event.item_ids == [first.public_id]
    assert event.conversation_id == conversation.public_id


def test_deleting_a_missing_item_is_not_found(project):
    conversation = make_conversation(project)
    with pytest.raises(NotFound) as info:
        services.item_delete(conversation=conversation, actor=services.SYSTEM, item_id="msg_nope")
    assert info.value.param == "item_id"


def test_conversation_delete_removes_items_and_keeps_only_counts_in_the_audit(project):
    conversation = make_conversation(project, items=[{"role": "user", "content": "my secret address"}])
    append_messages(conversation, 4)
    services.conversation_delete(conversation=conversation, actor=services.SYSTEM)
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not Item.objects.filter(conversation_id=conversation.pk).exists()
    event = AuditEvent.objects.get(action="conversation.delete")
    assert event.details == {"items_deleted": 5}
    assert "secret" not in str(event.details) + str(event.item_ids)


def test_update_replaces_the_whole_map_and_audits_the_changed_keys_but_no_values(project):
    conversation = make_conversation(project, metadata={"a": "1", "b": "2"})
    updated = services.conversation_update(conversation=conversation, actor=services.SYSTEM,
                                           metadata={"b": "two", "c": "3"})
    assert updated.metadata == {"b": "two", "c": "3"}
    event = AuditEvent.objects.get(action="conversation.update")
    assert event.details == {"added": ["c"], "removed": ["a"], "changed": ["b"]}
    assert services.conversation_update(conversation=conversation, actor=services.SYSTEM, metadata=None).metadata == {}


def test_writes_on_a_deleted_conversation_are_not_found(project):
    conversation = make_conversation(project)
    services.conversation_delete(conversation=conversation, actor=services.SYSTEM)
    with pytest.raises(NotFound):
        services.items_append(conversation=conversation, actor=services.SYSTEM, items=make_messages(1))



def test_deleting_what_is_already_gone_is_not_found_unless_missing_is_ok(project):
    """The API answers 404; the console counts it as done (someone else deleted it meanwhile)."""
    conversation = make_conversation(project, items=make_messages(1))
    services.conversation_delete(conversation=conversation, actor=services.SYSTEM)
    with pytest.raises(NotFound):
        services.conversation_delete(conversation=conversation, actor=services.SYSTEM)
    with pytest.raises(NotFound):
        services.item_delete(conversation=conversation, actor=services.SYSTEM, item_id="msg_1")
    services.conversation_delete(conversation=conversation, actor=services.SYSTEM, missing_ok=True)
    assert services.item_delete(conversation=conversation, actor=services.SYSTEM, item_id="msg_1",
                                missing_ok=True) is conversation
    assert AuditEvent.objects.filter(action="conversation.delete").count() == 1


def test_deleting_an_unknown_item_with_missing_ok_changes_and_audits_nothing(project):
    conversation = make_conversation(project, items=make_messages(2))
    with pytest.raises(NotFound):
        services.item_delete(conversation=conversation, actor=services.SYSTEM, item_id="msg_nope")
    same = services.item_delete(conversation=conversation, actor=services.SYSTEM, item_id="msg_nope", missing_ok=True)
    assert (same.pk, same.item_count, Item.objects.filter(conversation=conversation).count()) == (conversation.pk, 2, 2)
    assert not AuditEvent.objects.filter(action="item.delete").exists()

def test_actors_are_recorded(project, api_key):
    key, _ = api_key
    make_conversation(project)
    services.conversation_create(project=project, actor=services.Actor.for_api_key(key))
    labels = list(AuditEvent.objects.filter(action="conversation.create").values_list("actor_label", flat=True))
    assert sorted(labels) == sorted(["system", f"api_key:{key.prefix}"])


def test_api_keys_store_only_a_hash_and_stop_working_when_revoked(project):
    key, secret = services.apikey_create(project=project, actor=services.SYSTEM)
    assert secret not in key.secret_hash and key.secret_hash != secret
    assert secret.startswith(key.prefix)
    assert services.apikey_authenticate(secret) == key
    assert services.apikey_authenticate(secret + "x") is None
    assert services.apikey_authenticate("cvs_nothing") is None
    services.apikey_revoke(prefix=key.prefix, actor=services.SYSTEM)
    assert services.apikey_authenticate(secret) is None


def test_using_a_key_records_when(project):
    key, secret = services.apikey_create(project=project, actor=services.SYSTEM)
    assert key.last_used_at is None
    services.apikey_authenticate(secret)
    key.refresh_from_db()
    assert key.last_used_at is not None
