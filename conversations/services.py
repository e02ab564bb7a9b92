"""Every write Convoscope makes. Keyword-only, atomic, audited in the same transaction.

Both front doors (the API and the console) call these; neither writes rows itself.
"""

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, connection, models, transaction
from django.utils import timezone

from . import ids, item_rules, queries, validators
from .errors import Conflict, DomainError, InvalidInput, NotFound
from .models import TOMBSTONE_DAYS, ApiKey, AuditEvent, Conversation, DeletedConversation, DeletedItem, Item, Project

API_KEY_PREFIX_CHARS = 12
# last_used_at is refreshed at most this often, so a busy key does not write on every request.
API_KEY_TOUCH_INTERVAL = timedelta(seconds=60)


@dataclass(frozen=True)
class Actor:
    """Who is making a change: a console user, an API key, or the system (a command)."""

    user: Any = None
    api_key: ApiKey | None = None
    label: str = "system"

    @classmethod
    def for_api_key(cls, api_key: ApiKey) -> "Actor":
        return cls(api_key=api_key, label=f"api_key:{api_key.prefix}")

    @classmethod
    def for_user(cls, user) -> "Actor":
        return cls(user=user, label=f"user:{user.get_username()}")


SYSTEM = Actor()


def _audit(*, actor: Actor, action: str, project_id: int | None, conversation_id: str = "",
           item_ids: list[str] | None = None, details: dict | None = None) -> None:
    AuditEvent.objects.create(**_audit_fields(actor=actor, action=action, project_id=project_id,
                                              conversation_id=conversation_id, item_ids=item_ids, details=details))


def _audit_row(**kwargs) -> AuditEvent:
    """An audit event, unsaved (for bulk_create); the arguments are _audit's."""
    return AuditEvent(**_audit_fields(**kwargs))


def _audit_fields(*, actor: Actor, action: str, project_id: int | None, conversation_id: str = "",
                  item_ids: list[str] | None = None, details: dict | None = None) -> dict:
    return {
        "action": action,
        "project_id": project_id,
        "actor_user": actor.user,
        "actor_api_key": actor.api_key,
        "actor_label": actor.label,
        "conversation_id": conversation_id,
        "item_ids": item_ids or [],
        "details": details or {},
    }


def _locked(conversation: Conversation, *, missing_ok: bool = False) -> Conversation | None:
    """Take the conversation's row lock: appends and deletes on one conversation queue here.
    Gone meanwhile: NotFound, or None when the caller counts that as done (`missing_ok`)."""
    locked = Conversation.objects.select_for_update().filter(pk=conversation.pk).first()
    if locked is None and not missing_ok:
        raise NotFound(f"No conversation found with id '{conversation.public_id}'.", param="conversation_id")
    return locked


def _insert_items(conversation: Conversation, normalized: list[item_rules.NormalizedItem]) -> list[Item]:
    """Append items at the end of a conversation whose row lock the caller holds."""
    if not normalized:
        return []
    wanted = [item.public_id for item in normalized]
    taken = set(
        Item.objects.filter(conversation=conversation, public_id__in=wanted).values_list("public_id", flat=True)
    )
    for index, public_id in enumerate(wanted):
        if public_id in taken:
            # 400, never 409: the SDK retries 409s.
            raise InvalidInput(
                f"An item with id '{public_id}' already exists in this conversation.",
                param=f"items[{index}].id", code="duplicate_id",
            )
    now = timezone.now()
    first = conversation.next_position
    rows = _item_rows(conversation, normalized, first=first, created_at=[now] * len(normalized))
    Item.objects.bulk_create(rows)
    conversation.next_position = first + len(rows)
    conversation.item_count += len(rows)
    conversation.updated_at = now
    conversation.save(update_fields=["next_position", "item_count", "updated_at"])
    return rows


def _item_rows(conversation: Conversation, normalized: list[item_rules.NormalizedItem], *, first: int,
               created_at: list[datetime]) -> list[Item]:
    return [
        Item(
            conversation=conversation,
            public_id=item.public_id,
            position=first + offset,
            type=item.type,
            role=item.role,
            status=item.status,
            body=item.body,
            text=item.text,
            created_at=created_at[offset],
            unvalidated=item.unvalidated,
        )
        for offset, item in enumerate(normalized)
    ]


def resolve_item_references(items: Any, *, project_id: int, conversation: Conversation | None = None) -> Any:
    """`items` with each item reference replaced by a copy of the stored item it names (spec §12).

    The id is looked up in the project: in the conversation being appended to first, then in the
    project's others (client-supplied ids are unique per conversation only, so an id found in
    several others is ambiguous). A copy has a new id; everything else is the stored item, fields
    that `include` hides too. An id no item of this project has is a 400 naming it, whether it is
    missing or another project's. One query, whatever the number of references."""
    if not isinstance(items, list) or not any(item_rules.is_item_reference(item) for item in items):
        return items
    wanted = {index: item_rules.validate_item_reference(item, param=f"items[{index}]")
              for index, item in enumerate(items) if item_rules.is_item_reference(item)}
    found: dict[str, dict[int, dict]] = {}
    stored = (Item.objects.where(conversation__project_id=project_id, public_id__in=sorted(set(wanted.values())))
              .values_list("public_id", "conversation_id", "body"))
    for public_id, conversation_pk, body in stored:
        found.setdefault(public_id, {})[conversation_pk] = body
    resolved = list(items)
    for index, public_id in wanted.items():
        bodies = found.get(public_id, {})
        if conversation is not None and conversation.pk in bodies:
            body = bodies[conversation.pk]
        elif len(bodies) == 1:
            body = next(iter(bodies.values()))
        elif not bodies:
            raise InvalidInput(f"No item found with id '{public_id}' in this project.",
                               param=f"items[{index}].id", code="not_found")
        else:
            raise InvalidInput(
                f"The id '{public_id}' names items of several conversations of this project; "
                "send the item itself instead of a reference.",
                param=f"items[{index}].id", code="ambiguous_reference",
            )
        resolved[index] = {**body, "id": ids.new_item_id(body["type"])}
    return resolved


def conversation_create(
    *, project: Project, actor: Actor, items: Any = None, metadata: Any = None
) -> tuple[Conversation, list[Item]]:
    """Create a conversation, optionally with up to 20 first items, all or nothing."""
    clean_metadata = validators.validate_metadata(metadata)
    items = resolve_item_references(items, project_id=project.pk)
    normalized = item_rules.validate_items(items if items is not None else [])
    with transaction.atomic():
        conversation = Conversation(project=project, metadata=clean_metadata)
        conversation.full_clean(exclude=["project"])
        conversation.save()
        rows = _insert_items(conversation, normalized)
        _audit(
            actor=actor, action=AuditEvent.Action.CONVERSATION_CREATE, project_id=project.pk,
            conversation_id=conversation.public_id, item_ids=[row.public_id for row in rows],
        )
    return conversation, rows


def conversation_update(*, conversation: Conversation, actor: Actor, metadata: Any) -> Conversation:
    """Replace the whole metadata map (null clears it)."""
    clean_metadata = validators.validate_metadata(metadata)
    with transaction.atomic():
        locked = _locked(conversation)
        before = locked.metadata
        locked.metadata = clean_metadata
        locked.updated_at = timezone.now()
        locked.save(update_fields=["metadata", "updated_at"])
        # Key names only: values may be personal data, which must not outlive a deleted conversation.
        _audit(
            actor=actor, action=AuditEvent.Action.CONVERSATION_UPDATE, project_id=locked.project_id,
            conversation_id=locked.public_id, details=_metadata_change(before, clean_metadata),
        )
    return locked


def _metadata_change(before: dict, after: dict) -> dict:
    return {
        "added": sorted(after.keys() - before.keys()),
        "removed": sorted(before.keys() - after.keys()),
        "changed": sorted(k for k in after.keys() & before.keys() if after[k] != before[k]),
    }


def _remove(conversation_pks: list[int]) -> int:
    """What deleting a conversation means, for one or a batch whose row locks the caller holds:
    all its items go, then the conversation itself; nothing keeps their content. Returns the
    number of items deleted. Where each conversation stood in its project's list is kept a while
    (DeletedConversation: ids and times), so a list cursor naming it still works."""
    doomed = Conversation.objects.filter(pk__in=conversation_pks)
    DeletedConversation.objects.bulk_create(
        DeletedConversation(project_id=project_id, public_id=public_id, created_at=created_at, conversation_pk=pk)
        for pk, project_id, public_id, created_at in doomed.values_list("pk", "project_id", "public_id", "created_at")
    )
    deleted_items, _ = Item.objects.filter(conversation_id__in=conversation_pks).delete()
    doomed.delete()
    return deleted_items


def conversation_delete(*, conversation: Conversation, actor: Actor, missing_ok: bool = False) -> None:
    """Remove a conversation and all its items for good; the audit keeps ids and counts only.
    One already gone is NotFound (the API's 404), or done without a word with `missing_ok` (the
    console: someone else deleted it meanwhile; the outcome is the same)."""
    with transaction.atomic():
        locked = _locked(conversation, missing_ok=missing_ok)
        if locked is None:
            return
        deleted_items = _remove([locked.pk])
        _audit(
            actor=actor, action=AuditEvent.Action.CONVERSATION_DELETE, project_id=locked.project_id,
            conversation_id=locked.public_id, details={"items_deleted": deleted_items},
        )


def items_append(*, conversation: Conversation, actor: Actor, items: Any) -> list[Item]:
    """Append 1..20 items at the end of the timeline, all or nothing, in input order."""
    items = resolve_item_references(items, project_id=conversation.project_id, conversation=conversation)
    normalized = item_rules.validate_items(items, allow_empty=False)
    with transaction.atomic():
        locked = _locked(conversation)
        rows = _insert_items(locked, normalized)
        _audit(
            actor=actor, action=AuditEvent.Action.ITEMS_CREATE, project_id=locked.project_id,
            conversation_id=locked.public_id, item_ids=[row.public_id for row in rows],
        )
    return rows


def item_delete(*, conversation: Conversation, actor: Actor, item_id: str, missing_ok: bool = False) -> Conversation:
    """Delete one item; returns the (updated) parent conversation, as the API answers. An item (or
    conversation) already gone is NotFound, or done with `missing_ok` (the console), which then
    returns the conversation as it stands, nothing written."""
    with transaction.atomic():
        locked = _locked(conversation, missing_ok=missing_ok)
        if locked is None:
            return conversation
        item = Item.objects.filter(conversation=locked).where(public_id=item_id).values_list("pk", "position").first()
        if item is None and missing_ok:
            return locked
        if item is None:
            raise NotFound(f"No item found with id '{item_id}' in conversation '{locked.public_id}'.", param="item_id")
        Item.objects.filter(pk=item[0]).delete()
        # Where it stood, so a list cursor naming it keeps working (the list-and-delete loop).
        DeletedItem.objects.create(conversation=locked, public_id=item_id, position=item[1])
        locked.item_count = max(locked.item_count - 1, 0)
        locked.updated_at = timezone.now()
        locked.save(update_fields=["item_count", "updated_at"])
        _audit(
            actor=actor, action=AuditEvent.Action.ITEM_DELETE, project_id=locked.project_id,
            conversation_id=locked.public_id, item_ids=[item_id],
        )
    return locked


def tombstones_prune(*, older_than_days: int = TOMBSTONE_DAYS) -> int:
    """Forget where deleted items and conversations stood once their cursors are this old (run by
    `purge`). Returns how many were forgotten."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    items, _ = DeletedItem.objects.filter(deleted_at__lt=cutoff).delete()
    conversations, _ = DeletedConversation.objects.filter(deleted_at__lt=cutoff).delete()
    return items + conversations


# --- import, mirror and retention ------------------------------------------------------------------

IMPORT_BATCH_ITEMS = 1000  # rows per INSERT when a conversation brings many items


@dataclass(frozen=True)
class ImportRequest:
    """One conversation to bring in; the fields are conversation_import's."""

    project: Project
    public_id: Any
    created_at: datetime
    metadata: Any
    items: Any
    items_created_at: list[datetime] | None = None
    updated_at: datetime | None = None
    after: str | None = None
    # Keep items the SDK's models refuse as they came, marked (item_rules.normalize_stored_item).
    lenient: bool = False


@dataclass(frozen=True)
class ImportResult:
    conversation: Conversation
    # "created", "appended" (new items at the end), "updated" (metadata only) or "unchanged"
    outcome: str
    items_added: int


@dataclass(frozen=True)
class _Checked:
    """An ImportRequest that passed every rule, ready to write."""

    request: ImportRequest
    public_id: str
    fields: dict  # of a new conversation
    items: list[item_rules.NormalizedItem]
    times: list[datetime]

    @property
    def metadata(self) -> dict:
        return self.fields["metadata"]

    def new_conversation(self) -> Conversation:
        return Conversation(**self.fields)


def conversation_import(
    *, project: Project, actor: Actor, public_id: Any, created_at: datetime, metadata: Any, items: Any,
    items_created_at: list[datetime] | None = None, updated_at: datetime | None = None,
    after: str | None = None, source: str = "file", lenient: bool = False,
) -> ImportResult:
    """Bring in a conversation from elsewhere (import_conversations, mirror), keeping its id,
    its creation time, its items' ids and their order. All or nothing, audited.

    `items` is the whole timeline when `after` is None; otherwise it is what follows the item
    `after`, which must be the last item stored here. Idempotent: when the conversation exists
    (in this project), its stored items must be the start of the timeline given (compared by
    id: items are never edited in place), only the rest is appended, and metadata is replaced
    when it differs. A second run of the same input changes nothing and writes no audit event.
    `items_created_at` (one per item) and `updated_at` default to now. Items are kept as the
    other server returned them when the SDK's output models accept them
    (item_rules.normalize_stored_item); `lenient` keeps the others too, marked `unvalidated`.
    """
    request = ImportRequest(project=project, public_id=public_id, created_at=created_at, metadata=metadata,
                            items=items, items_created_at=items_created_at, updated_at=updated_at, after=after,
                            lenient=lenient)
    return _import_one(_check(request), actor=actor, source=source)


def conversations_import(*, requests: list[ImportRequest], actor: Actor,
                         source: str = "file") -> list[ImportResult | DomainError]:
    """conversation_import for many conversations (import_conversations), in a few round trips:
    one result per request, in order - the outcome, or the DomainError that refused it.

    The same rules and outcomes as one call each: every conversation is all or nothing and
    has its own audit event. Those not stored yet are written together in one transaction (one
    INSERT of conversations, one COPY of items, one INSERT of audit events); if that fails
    (someone created one of them meanwhile, or the database refuses one of them), each is
    imported alone, so only the one at fault is refused. Those that exist, and a conversation
    repeated within the batch, are imported one by one.
    """
    results: list[ImportResult | DomainError | None] = [None] * len(requests)
    checked: list[tuple[int, _Checked]] = []
    for index, request in enumerate(requests):
        try:
            checked.append((index, _check(request)))
        except DomainError as exc:
            results[index] = exc
    stored = _stored([c.public_id for _, c in checked])
    fresh, one_by_one, seen = [], [], set()
    for index, check in checked:
        public_id = check.public_id
        if public_id in stored and public_id not in seen and _same(stored[public_id], check):
            # A re-import: nothing to write, so no lock and no transaction.
            results[index] = ImportResult(conversation=stored[public_id][0], outcome="unchanged", items_added=0)
            seen.add(public_id)
        elif public_id in stored or public_id in seen or check.request.after is not None:
            one_by_one.append((index, check))
        else:
            fresh.append((index, check))
            seen.add(public_id)
    if fresh:
        try:
            with transaction.atomic():
                created = _create_many([check for _, check in fresh], actor=actor, source=source)
        except (IntegrityError, DataError):
            one_by_one = sorted(fresh + one_by_one, key=lambda pair: pair[0])
        else:
            for (index, _), result in zip(fresh, created, strict=True):
                results[index] = result
    for index, check in one_by_one:
        try:
            results[index] = _import_one(check, actor=actor, source=source)
        except DomainError as exc:
            results[index] = exc
    return results


def _stored(public_ids: list[str]) -> dict[str, tuple[Conversation, list[str]]]:
    """The conversations of a batch that are stored already, with their item ids in order (two queries)."""
    conversations = {c.pk: c for c in Conversation.objects.filter(public_id__in=public_ids)}
    item_ids: dict[int, list[str]] = {pk: [] for pk in conversations}
    items = Item.objects.filter(conversation_id__in=list(conversations)).order_by("conversation_id", "position")
    for conversation_pk, public_id in items.values_list("conversation_id", "public_id"):
        item_ids[conversation_pk].append(public_id)
    return {c.public_id: (c, item_ids[pk]) for pk, c in conversations.items()}


def _same(stored: tuple[Conversation, list[str]], check: _Checked) -> bool:
    conversation, item_ids = stored
    return (check.request.after is None and conversation.project_id == check.request.project.pk
            and conversation.metadata == check.metadata and item_ids == [item.public_id for item in check.items])


def _check(request: ImportRequest) -> _Checked:
    """Every rule, before any write (the rules live in validators and the model)."""
    public_id = validators.validate_conversation_id(request.public_id)
    metadata = validators.validate_metadata(request.metadata)
    normalized = item_rules.validate_items(request.items, max_items=None, stored=True,  # a whole timeline
                                           lenient=request.lenient)
    times = request.items_created_at
    if times is not None and len(times) != len(normalized):
        raise InvalidInput(f"Invalid 'items_created_at': {len(times)} times for {len(normalized)} items.",
                           param="items_created_at")
    now = timezone.now()
    fields = {"public_id": public_id, "project": request.project, "metadata": metadata,
              "created_at": request.created_at, "updated_at": request.updated_at or now,
              "next_position": len(normalized), "item_count": len(normalized)}
    try:
        # Uniqueness is the writer's to find out (IntegrityError), under its transaction.
        Conversation(**fields).full_clean(exclude=["project"], validate_unique=False)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise InvalidInput(f"Invalid '{field}': {' '.join(messages)}", param=field) from None
    return _Checked(request=request, public_id=public_id, fields=fields, items=normalized,
                    times=times if times is not None else [now] * len(normalized))


def _import_audit(check: _Checked, result: ImportResult, *, actor: Actor, source: str,
                  metadata_before: dict | None = None) -> AuditEvent:
    details = {"source": source, "outcome": result.outcome, "items_added": result.items_added}
    if result.items_added:
        details["first_item_id"] = check.items[-result.items_added].public_id
        details["last_item_id"] = check.items[-1].public_id
    if metadata_before is not None and metadata_before != check.metadata:
        details["metadata"] = _metadata_change(metadata_before, check.metadata)
    return _audit_row(actor=actor, action=AuditEvent.Action.CONVERSATION_IMPORT,
                      project_id=check.request.project.pk, conversation_id=check.public_id, details=details)


def _create_many(batch: list[_Checked], *, actor: Actor, source: str) -> list[ImportResult]:
    """Write new conversations, their items and their audit events; the caller holds the transaction."""
    conversations = Conversation.objects.bulk_create([check.new_conversation() for check in batch])
    _write_items([(conversation, check.items, 0, check.times)
                  for conversation, check in zip(conversations, batch, strict=True)])
    results = [ImportResult(conversation=conversation, outcome="created", items_added=len(check.items))
               for conversation, check in zip(conversations, batch, strict=True)]
    AuditEvent.objects.bulk_create([_import_audit(check, result, actor=actor, source=source)
                                    for check, result in zip(batch, results, strict=True)])
    return results


def _import_one(check: _Checked, *, actor: Actor, source: str) -> ImportResult:
    request, public_id = check.request, check.public_id
    try:
        with transaction.atomic():
            existing = Conversation.objects.select_for_update().filter(public_id=public_id).first()
            if existing is None:
                if request.after is not None:
                    raise Conflict(f"Conversation '{public_id}' is gone here; copy it again from the start.",
                                   param="id")
                [result] = _create_many([check], actor=actor, source=source)
                return result
            if existing.project_id != request.project.pk:
                other = Project.objects.filter(pk=existing.project_id).values_list("name", flat=True).first()
                raise Conflict(
                    f"Conversation '{public_id}' already exists in project '{other}'; "
                    "conversation ids are unique across projects.", param="id",
                )
            metadata_before = existing.metadata
            result = _import_into(existing, request.after, check.fields["updated_at"], check.metadata, check.items,
                                  check.times)
            if result.outcome != "unchanged":
                _import_audit(check, result, actor=actor, source=source, metadata_before=metadata_before).save()
            return result
    except IntegrityError:
        # Another writer created the same conversation (or item) between our check and insert.
        raise Conflict(f"Conversation '{public_id}' was written by someone else meanwhile; run again.",
                       param="id") from None
    except DataError as exc:
        # A value the rules let through but the database cannot hold: refuse this conversation alone.
        reason = str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else type(exc).__name__
        raise InvalidInput(f"The database refused this conversation: {reason}.") from None


ITEM_COPY_COLUMNS = ("conversation_id", "public_id", "position", "type", "role", "status", "body", "text",
                     "created_at", "unvalidated")


def _write_items(timelines: list[tuple[Conversation, list[item_rules.NormalizedItem], int, list[datetime]]]) -> None:
    """Insert the items of one or many conversations at once (import, mirror), each timeline
    as (conversation, items, first position, creation times). PostgreSQL: one COPY, as the
    seeder does - Django's bulk INSERT binds every value client-side, quoting each JSON body in
    Python, which made the import about twice as slow."""
    if connection.vendor != "postgresql":
        rows = [row for conversation, items, first, times in timelines
                for row in _item_rows(conversation, items, first=first, created_at=times)]
        Item.objects.bulk_create(rows, batch_size=IMPORT_BATCH_ITEMS)
        return
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    # wrap_database_errors: psycopg's own errors (the COPY bypasses Django's cursor) become Django's.
    with connection.wrap_database_errors, connection.cursor() as cursor, cursor.cursor.copy(
        f"COPY {Item._meta.db_table} ({', '.join(ITEM_COPY_COLUMNS)}) FROM STDIN"
    ) as copy:
        for conversation, items, first, times in timelines:
            for offset, item in enumerate(items):
                copy.write_row((conversation.pk, item.public_id, first + offset, item.type, item.role,
                                item.status, dumps(item.body), item.text, times[offset], item.unvalidated))


def _import_into(conversation, after, updated_at, metadata, normalized, times) -> ImportResult:
    """Append what is new to a conversation whose row lock we hold."""
    stored = Item.objects.filter(conversation=conversation).order_by("position")
    if after is None:
        stored_ids = list(stored.values_list("public_id", flat=True))
        given_ids = [item.public_id for item in normalized]
        if given_ids[: len(stored_ids)] != stored_ids:
            differ = next((n for n, (a, b) in enumerate(zip(stored_ids, given_ids, strict=False)) if a != b),
                          min(len(stored_ids), len(given_ids)))
            raise Conflict(
                f"Conversation '{conversation.public_id}' already exists here with other items "
                f"({len(stored_ids)} stored, {len(given_ids)} given; they differ from item {differ} on).",
                param=f"items[{differ}]",
            )
        start = len(stored_ids)
    else:
        last = stored.reverse().values_list("public_id", flat=True).first()
        if last != after:
            raise Conflict(
                f"Conversation '{conversation.public_id}' changed here meanwhile (its last item is "
                f"'{last}', not '{after}'); run again.", param="after",
            )
        start = 0
        new_ids = [item.public_id for item in normalized]
        for chunk in range(0, len(new_ids), IMPORT_BATCH_ITEMS):
            taken = stored.filter(public_id__in=new_ids[chunk: chunk + IMPORT_BATCH_ITEMS])
            taken = taken.values_list("public_id", flat=True).first()
            if taken is not None:
                raise Conflict(f"Conversation '{conversation.public_id}' already holds an item '{taken}'.",
                               param="items")
    fresh, fresh_times = normalized[start:], times[start:]
    if not fresh and conversation.metadata == metadata:
        return ImportResult(conversation=conversation, outcome="unchanged", items_added=0)
    if fresh:
        _write_items([(conversation, fresh, conversation.next_position, fresh_times)])
    conversation.metadata = metadata
    conversation.updated_at = updated_at
    conversation.next_position += len(fresh)
    conversation.item_count += len(fresh)
    conversation.save(update_fields=["metadata", "updated_at", "next_position", "item_count"])
    return ImportResult(conversation=conversation, outcome="appended" if fresh else "updated",
                        items_added=len(fresh))


def statistics_refresh(*, conversations: int, items: int) -> None:
    """Refresh the planner's statistics of the tables a bulk write filled (import_conversations),
    now rather than when autovacuum next looks: exporting 200,000 items right after importing them
    into an empty database took 24 s on the empty tables' estimates, 14-16 s after ANALYZE.
    ANALYZE reads a sample of at most 30,000 rows per table, whatever its size. SQLite: PRAGMA
    optimize, which analyzes only what needs it."""
    tables = [model._meta.db_table for model, written in ((Conversation, conversations), (Item, items)) if written]
    if not tables:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {', '.join(connection.ops.quote_name(table) for table in tables)}")
        elif connection.vendor == "sqlite":
            cursor.execute("PRAGMA optimize")


@dataclass
class PurgeResult:
    conversations: int = 0
    items: int = 0
    per_project: dict[str, dict] = field(default_factory=dict)


def conversations_purge(
    *, cutoffs: dict[Project, datetime], actor: Actor, batch_size: int = 500, dry_run: bool = False,
    on_batch: Callable[[int, int], None] | None = None,
) -> PurgeResult:
    """Retention: delete each project's conversations created before its cutoff, in batches
    (one transaction each, row locks taken as conversation_delete takes them, the same
    _remove). One audit event per run: written with the first batch and its counts brought up
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
                items = _remove(pks)
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


# --- projects and API keys -----------------------------------------------------------------------


def project_get_or_create(*, name: str) -> Project:
    project, _ = Project.objects.get_or_create(name=validators.validate_project_name(name))
    return project


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def apikey_create(*, project: Project, actor: Actor, name: str = "") -> tuple[ApiKey, str]:
    """Create a key; returns it with its secret, which is shown this once and never stored."""
    with transaction.atomic():
        while True:
            secret = "cvs_" + secrets.token_urlsafe(32)
            prefix = secret[:API_KEY_PREFIX_CHARS]
            if not ApiKey.objects.filter(prefix=prefix).exists():
                break
        key = ApiKey.objects.create(project=project, name=name, prefix=prefix, secret_hash=_hash_secret(secret))
        _audit(actor=actor, action=AuditEvent.Action.API_KEY_CREATE, project_id=project.pk,
               details={"prefix": prefix, "name": name})
    return key, secret


def apikey_revoke(*, prefix: str, actor: Actor) -> ApiKey:
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().where(prefix=prefix).first()
        if key is None:
            raise NotFound(f"No API key with prefix '{prefix}'.", param="prefix")
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
            _audit(actor=actor, action=AuditEvent.Action.API_KEY_REVOKE, project_id=key.project_id,
                   details={"prefix": prefix})
    return key


def apikey_authenticate(secret: str) -> ApiKey | None:
    """The active key this secret belongs to, or None. Compares hashes in constant time."""
    if not validators.storable(secret):
        return None
    key = ApiKey.objects.active().select_related("project").filter(prefix=secret[:API_KEY_PREFIX_CHARS]).first()
    if key is None or not hmac.compare_digest(key.secret_hash, _hash_secret(secret)):
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > API_KEY_TOUCH_INTERVAL:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
