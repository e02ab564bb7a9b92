"""Every composed read both front doors share: lookups by public id and keyset pages.

Pages never use OFFSET or COUNT: they order by a strictly increasing key, filter from the
cursor, and fetch limit + 1 rows so `has_more` comes from the extra row.
"""

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from .errors import InvalidInput, NotFound
from .models import Conversation, Item


@dataclass(frozen=True)
class Page:
    data: list[Any]
    first_id: str | None
    last_id: str | None
    has_more: bool


def _page(rows: list, limit: int) -> Page:
    has_more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        data=rows,
        first_id=rows[0].public_id if rows else None,
        last_id=rows[-1].public_id if rows else None,
        has_more=has_more,
    )


def get_conversation(*, project_id: int, conversation_id: str) -> Conversation:
    """A project's conversation by public id. Called by every API and console view of one."""
    conversation = Conversation.objects.for_project(project_id).filter(public_id=conversation_id).first()
    if conversation is None:
        raise NotFound(f"No conversation found with id '{conversation_id}'.", param="conversation_id")
    return conversation


def get_item(*, conversation: Conversation, item_id: str) -> Item:
    item = Item.objects.filter(conversation=conversation, public_id=item_id).defer("text").first()
    if item is None:
        raise NotFound(
            f"No item found with id '{item_id}' in conversation '{conversation.public_id}'.", param="item_id"
        )
    return item


def item_page(*, conversation: Conversation, after: str | None = None, limit: int = 20, order: str = "desc") -> Page:
    """One page of a conversation's timeline (API items.list, console timeline).

    `after` is an item id; the page holds the items that come after it in `order`.
    Served by the unique index (conversation_id, position).
    """
    items = Item.objects.filter(conversation=conversation).defer("text")
    if after:
        position = Item.objects.filter(conversation=conversation, public_id=after).values_list("position", flat=True)
        position = position.first()
        if position is None:
            raise InvalidInput(f"Invalid 'after': no item with id '{after}' in this conversation.", param="after")
        items = items.filter(position__gt=position) if order == "asc" else items.filter(position__lt=position)
    return _page(list(items.in_order(order)[: limit + 1]), limit)


def conversation_page(
    *, conversations: QuerySet, scope: QuerySet | None = None, after: str | None = None, limit: int = 20,
    order: str = "desc",
) -> Page:
    """One page of conversations, newest first by default (API list, console search).

    `conversations` is an already scoped and filtered queryset (see filters.py). Keyset on
    (created_at, id), served by the index (project, created_at, id). The `after` conversation
    is looked up in `scope` (the caller's unfiltered, tenant-scoped queryset), so a cursor stays
    valid when the conversation it names no longer matches the filters.
    """
    if after:
        cursor = (conversations if scope is None else scope).filter(public_id=after).values_list("created_at", "pk").first()
        if cursor is None:
            raise InvalidInput(f"Invalid 'after': no conversation with id '{after}'.", param="after")
        created_at, pk = cursor
        if order == "asc":
            conversations = conversations.filter(Q(created_at__gt=created_at) | Q(created_at=created_at, pk__gt=pk))
        else:
            conversations = conversations.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk))
    ordering = ["created_at", "pk"] if order == "asc" else ["-created_at", "-pk"]
    return _page(list(conversations.order_by(*ordering)[: limit + 1]), limit)
