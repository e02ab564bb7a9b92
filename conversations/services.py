"""Every write Convoscope makes. Keyword-only, atomic, audited in the same transaction.

Both front doors (the API and the console) call these; neither writes rows itself.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from . import validators
from .errors import InvalidInput, NotFound
from .models import ApiKey, AuditEvent, Conversation, Item, Project

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
    AuditEvent.objects.create(
        action=action,
        project_id=project_id,
        actor_user=actor.user,
        actor_api_key=actor.api_key,
        actor_label=actor.label,
        conversation_id=conversation_id,
        item_ids=item_ids or [],
        details=details or {},
    )


def _locked(conversation: Conversation) -> Conversation:
    """Take the conversation's row lock: appends and deletes on one conversation queue here."""
    try:
        return Conversation.objects.select_for_update().get(pk=conversation.pk)
    except Conversation.DoesNotExist:
        raise NotFound(
            f"No conversation found with id '{conversation.public_id}'.", param="conversation_id"
        ) from None


def _insert_items(conversation: Conversation, normalized: list[validators.NormalizedItem]) -> list[Item]:
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
    rows = [
        Item(
            conversation=conversation,
            public_id=item.public_id,
            position=first + offset,
            type=item.type,
            role=item.role,
            status=item.status,
            body=item.body,
            text=item.text,
            created_at=now,
        )
        for offset, item in enumerate(normalized)
    ]
    Item.objects.bulk_create(rows)
    conversation.next_position = first + len(rows)
    conversation.item_count += len(rows)
    conversation.updated_at = now
    conversation.save(update_fields=["next_position", "item_count", "updated_at"])
    return rows


def conversation_create(
    *, project: Project, actor: Actor, items: Any = None, metadata: Any = None
) -> tuple[Conversation, list[Item]]:
    """Create a conversation, optionally with up to 20 first items, all or nothing."""
    clean_metadata = validators.validate_metadata(metadata)
    normalized = validators.validate_items(items if items is not None else [])
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


def conversation_delete(*, conversation: Conversation, actor: Actor) -> None:
    """Remove a conversation and all its items for good; the audit keeps ids and counts only."""
    with transaction.atomic():
        locked = _locked(conversation)
        deleted_items, _ = Item.objects.filter(conversation=locked).delete()
        locked.delete()
        _audit(
            actor=actor, action=AuditEvent.Action.CONVERSATION_DELETE, project_id=locked.project_id,
            conversation_id=locked.public_id, details={"items_deleted": deleted_items},
        )


def items_append(*, conversation: Conversation, actor: Actor, items: Any) -> list[Item]:
    """Append 1..20 items at the end of the timeline, all or nothing, in input order."""
    normalized = validators.validate_items(items, allow_empty=False)
    with transaction.atomic():
        locked = _locked(conversation)
        rows = _insert_items(locked, normalized)
        _audit(
            actor=actor, action=AuditEvent.Action.ITEMS_CREATE, project_id=locked.project_id,
            conversation_id=locked.public_id, item_ids=[row.public_id for row in rows],
        )
    return rows


def item_delete(*, conversation: Conversation, actor: Actor, item_id: str) -> Conversation:
    """Delete one item; returns the (updated) parent conversation, as the API answers."""
    with transaction.atomic():
        locked = _locked(conversation)
        deleted, _ = Item.objects.filter(conversation=locked, public_id=item_id).delete()
        if not deleted:
            raise NotFound(f"No item found with id '{item_id}' in conversation '{locked.public_id}'.", param="item_id")
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
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("A project name is 1 to 100 characters.", param="project")
    project, _ = Project.objects.get_or_create(name=name)
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
        key = ApiKey.objects.select_for_update().filter(prefix=prefix).first()
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
