"""Retention: deleting what is older than a project keeps (purge), and forgetting where deleted
rows stood once their cursors are old (tombstones)."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import models, transaction
from django.utils import timezone

from . import queries, services
from .models import TOMBSTONE_DAYS, AuditEvent, DeletedConversation, DeletedItem, Project


def tombstones_prune(*, older_than_days: int = TOMBSTONE_DAYS) -> int:
    """Forget where deleted items and conversations stood once their cursors are this old (run by
    `purge`). Returns how many were forgotten."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    items, _ = DeletedItem.objects.filter(deleted_at__lt=cutoff).delete()
    conversations, _ = DeletedConversation.objects.filter(deleted_at__lt=cutoff).delete()
    return items + conversations


@dataclass
class PurgeResult:
    conversations: int = 0
    items: int = 0
    per_project: dict[str, dict] = field(default_factory=dict)


def conversations_purge(
    *, cutoffs: dict[Project, datetime], actor: services.Actor, batch_size: int = 500, dry_run: bool = False,
    on_batch: Callable[[int, int], None] | None = None,
) -> PurgeResult:
    """Retention: delete each project's conversations created before its cutoff, in batches
    (one transaction each, row locks taken as conversation_delete takes them, the same
    services.remove). One audit event per run: written with the first batch and its counts brought up
    to date in every later batch's transaction, so it always matches what is gone.
    Creation time counts, not the last activity: a conversation is deleted whole once it
    began longer ago than the retention period. `on_batch(conversations, items)` reports progress.
    """
    result = PurgeResult()
    event = None
    for project, cutoff in cutoffs.items():
        counts = result.per_project.setdefault(project.name, {"cutoff": cutoff.isoformat(), "conversations": 0,
                                                              "items": 0})
        old = queries.purge_candidates(project=project, cutoff=cutoff)
        if dry_run:
            totals = old.aggregate(conversations=models.Count("pk"), items=models.Sum("item_count"))
            counts["conversations"], counts["items"] = totals["conversations"], totals["items"] or 0
            result.conversations += counts["conversations"]
            result.items += counts["items"]
            continue
        while True:
            with transaction.atomic():
                # Served by conv_project_created; the lock queues behind appends, as a delete does.
                pks = list(old.select_for_update().order_by("created_at", "pk").values_list("pk", flat=True)
                           [:batch_size])
                if not pks:
                    break
                items = services.remove(pks)
                counts["conversations"] += len(pks)
                counts["items"] += items
                result.conversations += len(pks)
                result.items += items
                details = {"conversations_deleted": result.conversations, "items_deleted": result.items,
                           "projects": result.per_project}
                if event is None:
                    event = AuditEvent.objects.create(
                        action=AuditEvent.Action.CONVERSATIONS_PURGE,
                        project_id=project.pk if len(cutoffs) == 1 else None,
                        actor_user=actor.user, actor_api_key=actor.api_key, actor_label=actor.label,
                        details=details,
                    )
                else:
                    AuditEvent.objects.filter(pk=event.pk).update(details=details)
            if on_batch is not None:
                on_batch(len(pks), items)
    return result
