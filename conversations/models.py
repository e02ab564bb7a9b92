"""Convoscope's schema: projects (tenants), their API keys, conversations, items and the audit log.

Every row that belongs to a conversation carries its `conversation_id`, and every unique key and
hot query includes it, so the item table can later be distributed by conversation (Citus)
without rewriting queries.
"""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import connection, models
from django.db.models.expressions import RawSQL
from django.utils import timezone

from . import ids, search
from .validators import MAX_PROJECT_NAME_CHARS, storable


class Project(models.Model):
    name = models.CharField(max_length=MAX_PROJECT_NAME_CHARS, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    # `manage.py purge` (without --older-than) deletes this project's conversations created more
    # than this many days ago. Empty: keep them for ever.
    retention_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="Delete conversations older than this many days (manage.py purge). Empty keeps them for ever.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class LookupQuerySet(models.QuerySet):
    def where(self, **lookups):
        """filter() for values a request supplied (ids, prefixes, filters). A value no column can hold
        (a NUL character, a lone surrogate: validators.storable) matches nothing, and is dropped from an
        `__in` list, instead of reaching PostgreSQL, which refuses it with an error (a 500)."""
        for name, value in lookups.items():
            if isinstance(value, str) and not storable(value):
                return self.none()
            if isinstance(value, list | tuple | set):
                lookups[name] = [v for v in value if not isinstance(v, str) or storable(v)]
        return self.filter(**lookups)


class ApiKeyQuerySet(LookupQuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """A project's API key. Only a SHA-256 hash of the secret is stored, never the secret."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    # The first characters of the secret, shown in lists and used to find the row to compare.
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.project})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


SQLITE_METADATA_PAIR = (
    'EXISTS (SELECT 1 FROM json_each("conversations_conversation"."metadata") '
    "WHERE json_each.key = %s AND json_each.type = 'text' AND json_each.value = %s)"
)


class ConversationQuerySet(LookupQuerySet):
    def for_project(self, project_id: int):
        """Every front door scopes by project first: another tenant's rows simply are not there."""
        return self.filter(project_id=project_id)

    def created_since(self, moment):
        """Created at or after `moment`: the filters' created_after (API list, console search, export)."""
        return self.filter(created_at__gte=moment)

    def created_before(self, moment):
        """Created strictly before `moment`: the filters' created_before, and retention's cutoff
        (retention.conversations_purge, `manage.py purge`). Served by conv_project_created."""
        return self.filter(created_at__lt=moment)

    def with_metadata(self, pairs: list[tuple[str, str]]):
        """Conversations whose metadata holds every KEY=VALUE pair (ANDed).

        Called by conversations.queries.conversation_page (API list, console search).
        PostgreSQL: array containment on the generated metadata_pairs column (GIN index and
        element statistics; see migration 0003). SQLite has no containment, and its JSON paths
        cannot quote every key, so it looks each pair up among the object's entries.
        """
        if not pairs:
            return self
        if connection.vendor == "postgresql":
            array = ", ".join(["convoscope_metadata_pair(%s, %s)"] * len(pairs))
            params = tuple(part for pair in pairs for part in pair)
            return self.filter(RawSQL(f"metadata_pairs @> ARRAY[{array}]", params, output_field=models.BooleanField()))
        qs = self
        for key, value in pairs:
            qs = qs.filter(RawSQL(SQLITE_METADATA_PAIR, (key, value), output_field=models.BooleanField()))
        return qs

    def matching_text(self, text: str):
        """Conversations with at least one item matching `text` (console search, API `text`).

        Where matches are rare, their conversations are collected from the full-text index first
        (see search.sparse_matches): PostgreSQL cannot estimate how many conversations an
        EXISTS over items keeps, and would otherwise walk every conversation looking for them.
        """
        conversation_ids = search.sparse_matches(text)
        if conversation_ids is not None:
            return self.filter(pk__in=conversation_ids)
        return self.filter(models.Exists(Item.objects.filter(conversation=models.OuterRef("pk")).matching(text)))


class Conversation(models.Model):
    public_id = models.CharField(max_length=64, unique=True, default=ids.new_conversation_id)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="conversations")
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Position the next appended item takes. Bumped under the conversation's row lock, never
    # reused, so positions are dense at append time and strictly increasing.
    next_position = models.PositiveBigIntegerField(default=0)
    item_count = models.PositiveIntegerField(default=0)

    objects = ConversationQuerySet.as_manager()

    class Meta:
        indexes = [
            # conversation_page() for the API: a project's conversations newest (or oldest)
            # first, keyset on (created_at, id).
            models.Index(fields=["project", "created_at", "id"], name="conv_project_created"),
            # conversation_page() for the console: every project's conversations, newest first.
            models.Index(fields=["created_at", "id"], name="conv_created"),
            # PostgreSQL also has a GIN index on the metadata pairs for with_metadata()
            # (migration 0003; SQLite has no such index).
        ]

    def __str__(self) -> str:
        return self.public_id


class ItemQuerySet(LookupQuerySet):
    def in_order(self, order: str = "asc"):
        return self.order_by("position" if order == "asc" else "-position")

    def matching(self, text: str):
        """Items whose text matches a search query (see conversations.search)."""
        return self.filter(search.item_match(text))


class Item(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="items")
    public_id = models.CharField(max_length=128)
    position = models.PositiveBigIntegerField()
    type = models.CharField(max_length=64)
    role = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=32, blank=True)
    # The whole item as the API returns it (normalised), so a read is one column.
    body = models.JSONField()
    # Plain text pulled out of the item, for search (see search_text.extract_text).
    text = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Why the SDK's models refused the body, for an item `mirror --lenient` kept as it came
    # (the console marks it); empty for every checked item. A database default, so raw COPYs
    # (seed) need not name it.
    unvalidated = models.TextField(blank=True, default="", db_default="")

    objects = ItemQuerySet.as_manager()

    class Meta:
        constraints = [
            # item_page(): the timeline in either order, keyset on position.
            models.UniqueConstraint(fields=["conversation", "position"], name="item_conversation_position"),
            # item lookup by id, and resolving an `after` cursor to its position.
            models.UniqueConstraint(fields=["conversation", "public_id"], name="item_conversation_public_id"),
        ]
        indexes = [
            # The console's id box: an item id alone leads to its conversation (queries.locate).
            models.Index(fields=["public_id"], name="item_public_id"),
        ]

    def __str__(self) -> str:
        return self.public_id


class DeletedItem(models.Model):
    """Where a deleted item stood in its timeline, so a list cursor naming it keeps working: the
    "list and delete" loop passes the id it just deleted as `after` (spec §12). Ids and positions
    only, never content; removed with the conversation, or by `purge` after TOMBSTONE_DAYS."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    public_id = models.CharField(max_length=128)
    position = models.PositiveBigIntegerField()
    deleted_at = models.DateTimeField(default=timezone.now)

    objects = LookupQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["conversation", "public_id"], name="deleted_item_cursor"),
            models.Index(fields=["deleted_at"], name="deleted_item_age"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} (deleted)"


class DeletedConversation(models.Model):
    """Where a deleted conversation stood in its project's list (its keyset: created_at, id), so
    a list cursor naming it keeps working. Ids and times only; removed by `purge` after
    TOMBSTONE_DAYS."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    public_id = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    conversation_pk = models.BigIntegerField()
    deleted_at = models.DateTimeField(default=timezone.now)

    objects = LookupQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["public_id"], name="deleted_conversation_cursor"),
            models.Index(fields=["deleted_at"], name="deleted_conversation_age"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} (deleted)"


# A cursor naming a deleted item or conversation works for this long after the delete.
TOMBSTONE_DAYS = 7


class AuditEvent(models.Model):
    """Who did what, when. Written in the same transaction as the change; never holds content."""

    class Action(models.TextChoices):
        CONVERSATION_CREATE = "conversation.create"
        CONVERSATION_UPDATE = "conversation.update"
        CONVERSATION_DELETE = "conversation.delete"
        ITEMS_CREATE = "items.create"
        ITEM_DELETE = "item.delete"
        # A conversation written by import_conversations or mirror (created, appended to or updated).
        CONVERSATION_IMPORT = "conversation.import"
        # One event per `manage.py purge` run, with its cutoffs and counts.
        CONVERSATIONS_PURGE = "conversations.purge"
        API_KEY_CREATE = "api_key.create"
        API_KEY_REVOKE = "api_key.revoke"

    created_at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=32, choices=Action.choices)
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.SET_NULL)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL)
    # A readable name of the actor, kept when the user or key is later deleted.
    actor_label = models.CharField(max_length=150)
    # Public ids as plain strings: the objects themselves may be gone.
    conversation_id = models.CharField(max_length=64, blank=True)
    item_ids = models.JSONField(default=list, blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = LookupQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The audit log page, newest first.
            models.Index(fields=["created_at", "id"], name="audit_created"),
            # "What happened to this conversation?" from the console.
            models.Index(fields=["conversation_id", "created_at"], name="audit_conversation"),
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label}"
