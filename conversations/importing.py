"""The bulk-import engine (import_conversations, mirror): whole conversations brought in from
another store, checked as the API checks them, written in batches (PostgreSQL: COPY), audited.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, connection, transaction
from django.utils import timezone

from . import item_rules, services, validators
from .errors import Conflict, DomainError, InvalidInput
from .models import AuditEvent, Conversation, Item, Project

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
class CheckedImport:
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
    *, project: Project, actor: services.Actor, public_id: Any, created_at: datetime, metadata: Any, items: Any,
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


def check_import(request: ImportRequest) -> CheckedImport:
    """Every rule of conversation_import, no database (a mirror's fetch threads run them); raises
    DomainError. conversations_import takes the result in place of the request."""
    return _check(request)


def conversations_import(*, requests: Sequence[ImportRequest | CheckedImport], actor: services.Actor,
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
    checked: list[tuple[int, CheckedImport]] = []
    for index, request in enumerate(requests):
        try:
            checked.append((index, request if isinstance(request, CheckedImport) else _check(request)))
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
    settled = [result for result in results if result is not None]
    assert len(settled) == len(requests), "every request has its result"
    return settled


def _stored(public_ids: list[str]) -> dict[str, tuple[Conversation, list[str]]]:
    """The conversations of a batch that are stored already, with their item ids in order (two queries)."""
    conversations = {c.pk: c for c in Conversation.objects.filter(public_id__in=public_ids)}
    item_ids: dict[int, list[str]] = {pk: [] for pk in conversations}
    items = Item.objects.filter(conversation_id__in=list(conversations)).order_by("conversation_id", "position")
    for conversation_pk, public_id in items.values_list("conversation_id", "public_id"):
        item_ids[conversation_pk].append(public_id)
    return {c.public_id: (c, item_ids[pk]) for pk, c in conversations.items()}


def _same(stored: tuple[Conversation, list[str]], check: CheckedImport) -> bool:
    conversation, item_ids = stored
    return (check.request.after is None and conversation.project_id == check.request.project.pk
            and conversation.metadata == check.metadata and item_ids == [item.public_id for item in check.items])


def _check(request: ImportRequest) -> CheckedImport:
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
    return CheckedImport(request=request, public_id=public_id, fields=fields, items=normalized,
                    times=times if times is not None else [now] * len(normalized))


def _import_audit(check: CheckedImport, result: ImportResult, *, actor: services.Actor, source: str,
                  metadata_before: dict | None = None) -> AuditEvent:
    details = {"source": source, "outcome": result.outcome, "items_added": result.items_added}
    if result.items_added:
        details["first_item_id"] = check.items[-result.items_added].public_id
        details["last_item_id"] = check.items[-1].public_id
    if metadata_before is not None and metadata_before != check.metadata:
        details["metadata"] = services.metadata_change(metadata_before, check.metadata)
    return services.audit_row(actor=actor, action=AuditEvent.Action.CONVERSATION_IMPORT,
                      project_id=check.request.project.pk, conversation_id=check.public_id, details=details)


def _create_many(batch: list[CheckedImport], *, actor: services.Actor, source: str) -> list[ImportResult]:
    """Write new conversations, their items and their audit events; the caller holds the transaction."""
    conversations = Conversation.objects.bulk_create([check.new_conversation() for check in batch])
    write_items([(conversation, check.items, 0, check.times)
                  for conversation, check in zip(conversations, batch, strict=True)])
    results = [ImportResult(conversation=conversation, outcome="created", items_added=len(check.items))
               for conversation, check in zip(conversations, batch, strict=True)]
    AuditEvent.objects.bulk_create([_import_audit(check, result, actor=actor, source=source)
                                    for check, result in zip(batch, results, strict=True)])
    return results


def _import_one(check: CheckedImport, *, actor: services.Actor, source: str) -> ImportResult:
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


def write_items(timelines: list[tuple[Conversation, list[item_rules.NormalizedItem], int, list[datetime]]]) -> None:
    """Insert the items of one or many conversations at once (import, mirror, the seeder), each
    timeline as (conversation, items, first position, creation times). PostgreSQL: one COPY -
    Django's bulk INSERT binds every value client-side, quoting each JSON body in Python, which
    made the import about twice as slow."""
    if connection.vendor != "postgresql":
        rows = [row for conversation, items, first, times in timelines
                for row in services.item_rows(conversation, items, first=first, created_at=times)]
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
            clashing = stored.filter(public_id__in=new_ids[chunk: chunk + IMPORT_BATCH_ITEMS])
            taken = clashing.values_list("public_id", flat=True).first()
            if taken is not None:
                raise Conflict(f"Conversation '{conversation.public_id}' already holds an item '{taken}'.",
                               param="items")
    fresh, fresh_times = normalized[start:], times[start:]
    if not fresh and conversation.metadata == metadata:
        return ImportResult(conversation=conversation, outcome="unchanged", items_added=0)
    if fresh:
        write_items([(conversation, fresh, conversation.next_position, fresh_times)])
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
