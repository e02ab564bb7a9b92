"""Concurrent writers on one conversation: nothing lost, duplicated or reordered."""

import threading

import pytest
from django.db import connection

from conversations import services
from conversations.models import Conversation, Item
from tests.factories import make_conversation, make_project

WRITERS = 8
BATCHES = 10
BATCH_SIZE = 3


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_keep_positions_dense_and_each_writers_order():
    conversation = make_conversation(make_project("concurrency"))
    barrier = threading.Barrier(WRITERS)
    errors = []

    def writer(number: int) -> None:
        try:
            barrier.wait()
            for batch in range(BATCHES):
                items = [{"role": "user", "content": f"w{number} b{batch} i{i}"} for i in range(BATCH_SIZE)]
                services.items_append(conversation=conversation, actor=services.SYSTEM, items=items)
        except Exception as exc:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    rows = list(Item.objects.filter(conversation=conversation).order_by("position").values_list("position", "text"))
    total = WRITERS * BATCHES * BATCH_SIZE
    assert [position for position, _ in rows] == list(range(total))
    texts = [text for _, text in rows]
    assert len(set(texts)) == total
    for number in range(WRITERS):
        mine = [t for t in texts if t.startswith(f"w{number} ")]
        assert mine == [f"w{number} b{b} i{i}" for b in range(BATCHES) for i in range(BATCH_SIZE)]
    # A batch is contiguous: nobody else's item lands inside it.
    for start in range(0, total, BATCH_SIZE):
        assert len({t.split(" b")[0] + t.split(" ")[1] for t in texts[start:start + BATCH_SIZE]}) == 1
    conversation = Conversation.objects.get(pk=conversation.pk)
    assert (conversation.item_count, conversation.next_position) == (total, total)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_deletes_and_appends_leave_a_consistent_timeline():
    conversation = make_conversation(make_project("concurrency"))
    seeded = services.items_append(
        conversation=conversation, actor=services.SYSTEM,
        items=[{"role": "user", "content": f"seed {i}"} for i in range(20)],
    )
    errors = []

    def deleter() -> None:
        try:
            for row in seeded[::2]:
                services.item_delete(conversation=conversation, actor=services.SYSTEM, item_id=row.public_id)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    def appender() -> None:
        try:
            for n in range(10):
                services.items_append(conversation=conversation, actor=services.SYSTEM,
                                      items=[{"role": "user", "content": f"new {n}"}])
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deleter), threading.Thread(target=appender)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    texts = list(Item.objects.filter(conversation=conversation).order_by("position").values_list("text", flat=True))
    assert texts == [f"seed {i}" for i in range(1, 20, 2)] + [f"new {n}" for n in range(10)]
    conversation = Conversation.objects.get(pk=conversation.pk)
    assert conversation.item_count == 20


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_deleting_a_conversation_while_others_append_leaves_no_orphans_and_loses_nothing_acknowledged():
    """Every append either lands before the delete (and is counted by it) or answers not-found;
    nothing is appended to a deleted conversation."""
    import time

    from conversations.errors import NotFound
    from conversations.models import AuditEvent

    conversation = make_conversation(make_project("concurrency"), items=[{"role": "user", "content": "seed"}])
    appended, gone, errors = [], [], []

    def appender(number: int) -> None:
        try:
            for batch in range(30):
                try:
                    services.items_append(conversation=conversation, actor=services.SYSTEM,
                                          items=[{"role": "user", "content": f"w{number} b{batch}"}] * 2)
                    appended.append(2)
                except NotFound:
                    gone.append(number)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    def deleter() -> None:
        try:
            deadline = time.monotonic() + 30
            while len(appended) < 5 and time.monotonic() < deadline:
                time.sleep(0.001)
            services.conversation_delete(conversation=conversation, actor=services.SYSTEM)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=appender, args=(n,)) for n in range(4)] + [threading.Thread(target=deleter)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert appended and gone  # the delete landed while appends were still coming
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not Item.objects.filter(conversation_id=conversation.pk).exists()
    (deleted,) = AuditEvent.objects.filter(action=AuditEvent.Action.CONVERSATION_DELETE,
                                           conversation_id=conversation.public_id)
    assert deleted.details["items_deleted"] == 1 + sum(appended)
