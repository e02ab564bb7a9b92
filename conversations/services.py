"""Every write to conversations, items, projects and API keys. Keyword-only, atomic, audited in the
same transaction. Both front doors (the API and the console) call these; neither writes rows
itself. Bulk writes live beside it: conversations/importing.py (import and mirror) and
conversations/retention.py (purge).
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, overload

from django.db import transaction
from django.utils import timezone

from . import ids, item_rules, validators
from .errors import InvalidInput, NotFound
from .models import ApiKey, AuditEvent, Conversation, DeletedConversation, DeletedItem, Item, Project

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


def audit_row(**kwargs) -> AuditEvent:
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


@overload
def _locked(conversation: Conversation, *, missing_ok: Literal[False] = False) -> Conversation: ...
@overload
def _locked(conversation: Conversation, *, missing_ok: bool) -> Conversation | None: ...
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
    rows = item_rows(conversation, normalized, first=first, created_at=[now] * len(normalized))
    Item.objects.bulk_create(rows)
    conversation.next_position = first + len(rows)
    conversation.item_count += len(rows)
    conversation.updated_at = now
    conversation.save(update_fields=["next_position", "item_count", "updated_at"])
    return rows


def item_rows(conversation: Conversation, normalized: list[item_rules.NormalizedItem], *, first: int,
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
            conversation_id=locked.public_id, details=metadata_change(before, clean_metadata),
        )
    return locked


def metadata_change(before: dict, after: dict) -> dict:
    return {
        "added": sorted(after.keys() - before.keys()),
        "removed": sorted(before.keys() - after.keys()),
        "changed": sorted(k for k in after.keys() & before.keys() if after[k] != before[k]),
    }


def remove(conversation_pks: list[int]) -> int:
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
        deleted_items = remove([locked.pk])
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
