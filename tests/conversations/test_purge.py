"""manage.py purge: retention by age or by each project's own setting, in batches, one audit event."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from conversations.models import AuditEvent, Conversation, Item
from tests.factories import make_conversation, make_messages, make_project

pytestmark = pytest.mark.django_db


def purge(*args, verbosity: int = 1) -> str:
    out = StringIO()
    call_command("purge", *args, "--no-progress", verbosity=verbosity, stdout=out, stderr=StringIO())
    return out.getvalue()


def aged(project, days: float, items: int = 2):
    conversation = make_conversation(project, items=make_messages(items))
    Conversation.objects.filter(pk=conversation.pk).update(created_at=timezone.now() - timedelta(days=days))
    return conversation


def remaining(project=None) -> list[str]:
    conversations = Conversation.objects.all() if project is None else Conversation.objects.filter(project=project)
    return sorted(conversations.values_list("public_id", flat=True))


def test_it_deletes_conversations_created_before_the_cutoff_with_their_items(project):
    old, older = aged(project, 91), aged(project, 400, items=3)
    recent = aged(project, 89)

    out = purge("--older-than", "90d")

    assert out == "Deleted 2 conversation(s) and 5 item(s) from 1 project(s).\n"
    assert remaining() == [recent.public_id]
    assert not Item.objects.filter(conversation_id__in=[old.pk, older.pk]).exists()


def test_one_audit_event_per_run_holds_the_counts(project, other_project):
    for days in (100, 120, 140):
        aged(project, days)
    aged(other_project, 100, items=5)

    purge("--older-than", "90d", "--batch", "2")

    [event] = AuditEvent.objects.filter(action="conversations.purge")
    assert event.actor_label == "command:purge"
    assert event.project is None  # the run covered two projects
    assert event.details["conversations_deleted"] == 4 and event.details["items_deleted"] == 11
    assert event.details["projects"]["acme"]["conversations"] == 3
    assert event.details["projects"]["globex"]["items"] == 5
    # The per-conversation delete events are not repeated for a purge.
    assert not AuditEvent.objects.filter(action="conversation.delete").exists()


def test_project_limits_the_purge_to_one_project(project, other_project):
    aged(project, 100)
    kept = aged(other_project, 100)
    purge("--older-than", "90d", "--project", "acme")
    assert remaining() == [kept.public_id]
    assert AuditEvent.objects.get(action="conversations.purge").project == project


def test_a_dry_run_counts_and_deletes_nothing(project):
    aged(project, 100, items=4)
    before = remaining()
    out = purge("--older-than", "90d", "--dry-run")
    assert out == "Would delete 1 conversation(s) and 4 item(s) from 1 project(s) (dry run: nothing deleted).\n"
    assert remaining() == before
    assert not AuditEvent.objects.filter(action="conversations.purge").exists()


def test_without_older_than_each_project_keeps_its_own_retention(project, other_project):
    project.retention_days = 30
    project.save()
    third = make_project("initech")
    third.retention_days = 365
    third.save()
    short_kept, _ = aged(project, 20), aged(project, 40)
    unlimited = [aged(other_project, 40), aged(other_project, 4000)]
    long_kept, _ = aged(third, 200), aged(third, 400)

    purge()

    assert remaining(project) == [short_kept.public_id]
    assert remaining(other_project) == sorted(c.public_id for c in unlimited)
    assert remaining(third) == [long_kept.public_id]


def test_a_project_without_retention_needs_older_than(other_project):
    with pytest.raises(CommandError, match="has no retention setting"):
        purge("--project", "globex")


def test_nothing_to_do_is_silent_for_cron_and_told_with_verbosity_2(project):
    aged(project, 10)
    assert purge("--older-than", "90d") == ""
    assert "Deleted 0 conversation(s)" in purge("--older-than", "90d", verbosity=2)
    assert purge() == ""  # no project has a retention setting
    assert "No project has a retention setting" in purge(verbosity=2)


def test_verbosity_0_prints_nothing_even_when_it_deletes(project):
    aged(project, 100)
    assert purge("--older-than", "90d", verbosity=0) == ""
    assert remaining() == []


def test_verbosity_2_reports_each_project(project, other_project):
    aged(project, 100)
    out = purge("--older-than", "12w", verbosity=2)
    assert "acme: 1 conversation(s) and 2 item(s) created before" in out
    assert "globex: 0 conversation(s)" in out


@pytest.mark.parametrize("args, message", [
    (["--older-than", "90"], "not an age"),
    (["--older-than", "0d"], "not an age"),
    (["--older-than", "3 months"], "not an age"),
    (["--older-than", "90d", "--project", "nope"], "No project named 'nope'"),
    (["--older-than", "90d", "--batch", "0"], "--batch must be at least 1"),
])
def test_it_explains_mistakes(project, args, message):
    with pytest.raises(CommandError, match=message):
        purge(*args)


def test_ages_in_hours_and_weeks(project):
    hours = make_conversation(project)
    Conversation.objects.filter(pk=hours.pk).update(created_at=timezone.now() - timedelta(hours=37))
    purge("--older-than", "36h")
    assert remaining() == []
