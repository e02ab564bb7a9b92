"""What the API itself stores: the first response to each write sent with an `Idempotency-Key`
(api/idempotency.py reads and writes these rows; nothing else does)."""

from django.db import models
from django.utils import timezone

from conversations.models import ApiKey, Conversation


class IdempotencyRecord(models.Model):
    """A write made with an `Idempotency-Key`, and the response it got: a repeat of the same request
    with the same key, by the same API key, within 24 hours is answered with this response."""

    # No index of its own: the unique (api_key, key) below leads with it.
    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+", db_index=False)
    key = models.CharField(max_length=255)
    # SHA-256 of the method, path, query string and body: a repeat must match it exactly.
    fingerprint = models.CharField(max_length=64)
    # "POST /v1/conversations", to tell a caller who reuses the key what it was used for.
    request_line = models.TextField()
    # Set in the transaction that made the write, so a committed row always has its response.
    status = models.PositiveSmallIntegerField(null=True)
    body = models.TextField(blank=True)
    headers = models.JSONField(default=dict)
    # The conversation the response shows (its metadata, its items): deleting the conversation
    # deletes its stored responses too, so no content outlives it here.
    conversation = models.ForeignKey(Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # The lookup of every keyed write; a concurrent duplicate waits on this index for the
            # first one's transaction (PostgreSQL), then finds its row.
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_api_key_key"),
        ]
        indexes = [
            # Deleting expired rows, oldest first (idempotency._delete_expired).
            models.Index(fields=["created_at"], name="idempotency_created"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.request_line})"
