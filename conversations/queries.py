"""Every composed read both front doors share: lookups by public id and keyset pages.

Pages never use OFFSET or COUNT: they order by a strictly increasing key, filter from the
cursor, and fetch limit + 1 rows so `has_more` comes from the extra row.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Substr, TruncDate
from django.utils import timezone

from . import search
from .errors import InvalidInput, NotFound
from .models import Conversation, Item, Project


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
    conversation = Conversation.objects.for_project(project_id).where(public_id=conversation_id).first()
    if conversation is None:
        raise NotFound(f"No conversation found with id '{conversation_id}'.", param="conversation_id")
    return conversation


def get_item(*, conversation: Conversation, item_id: str) -> Item:
    item = Item.objects.filter(conversation=conversation).where(public_id=item_id).defer("text").first()
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
        cursor = Item.objects.filter(conversation=conversation).where(public_id=after)
        position = cursor.values_list("position", flat=True).first()
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
        cursor = (conversations if scope is None else scope).where(public_id=after)
        cursor = cursor.values_list("created_at", "pk").first()
        if cursor is None:
            raise InvalidInput(f"Invalid 'after': no conversation with id '{after}'.", param="after")
        created_at, pk = cursor
        if order == "asc":
            conversations = conversations.filter(Q(created_at__gt=created_at) | Q(created_at=created_at, pk__gt=pk))
        else:
            conversations = conversations.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=pk))
    ordering = ["created_at", "pk"] if order == "asc" else ["-created_at", "-pk"]
    return _page(list(conversations.order_by(*ordering)[: limit + 1]), limit)


# --- the console ---------------------------------------------------------------------------------

PREVIEW_CHARS = 160


def search_rows(conversations: QuerySet, *, text: str = "") -> QuerySet:
    """Console search rows: the project, a preview of the last item and, for a text search, a
    highlighted snippet of the best-matching item, all in the same query.

    The per-row subqueries run only for the rows of the page (PostgreSQL evaluates the select
    list after LIMIT).
    """
    last = Item.objects.filter(conversation=OuterRef("pk")).order_by("-position")
    rows = conversations.select_related("project").annotate(
        last_item_preview=Substr(Subquery(last.values("text")[:1]), 1, PREVIEW_CHARS),
        last_item_type=Subquery(last.values("type")[:1]),
    )
    if text:
        matches = Item.objects.filter(conversation=OuterRef("pk")).matching(text)
        best = search.best_first(matches, text).annotate(snippet=search.item_snippet(text))
        rows = rows.annotate(match_snippet=Subquery(best.values("snippet")[:1]),
                             match_item_id=Subquery(best.values("public_id")[:1]))
    return rows


def locate(public_id: str) -> tuple[Conversation, Item | None] | None:
    """What the console's id box names: a conversation, or an item and its conversation."""
    public_id = public_id.strip()
    conversation = Conversation.objects.where(public_id=public_id).first()
    if conversation is not None:
        return conversation, None
    # Item ids are unique per conversation only: a client-chosen id may repeat; take the newest.
    item = Item.objects.select_related("conversation").defer("text").where(public_id=public_id).order_by("-pk")
    item = item.first()
    if item is not None:
        return item.conversation, item
    return None


def audit_page(events: QuerySet, *, after: int | None = None, limit: int = 50) -> Page:
    """The audit log, newest first, keyset on id (ids grow with time)."""
    if after is not None:
        events = events.filter(pk__lt=after)
    rows = list(events.select_related("project").order_by("-pk")[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    return Page(data=rows, first_id=rows[0].pk if rows else None, last_id=rows[-1].pk if rows else None,
                has_more=has_more)


@dataclass(frozen=True)
class TableSize:
    value: int
    estimated: bool  # PostgreSQL's own estimate: an exact count would read the whole table


@dataclass(frozen=True)
class Overview:
    projects: int
    conversations: TableSize
    items: TableSize
    conversations_24h: int
    conversations_per_day: list[tuple[date, int]]


# Above this many rows a table's size is PostgreSQL's estimate: counting 10M items exactly
# took 1.5 s and 1M conversations 0.46 s; the estimate is one catalog lookup.
EXACT_COUNT_LIMIT = 100_000


def _table_size(model) -> TableSize:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table])
            estimate = cursor.fetchone()[0]
        if estimate > EXACT_COUNT_LIMIT:
            return TableSize(int(estimate), estimated=True)
    return TableSize(model.objects.count(), estimated=False)


def overview(*, days: int = 30) -> Overview:
    """The console's overview: sizes, and conversations started per day for the last `days` days.

    Everything here is served by an index or the catalog, whatever the size: the per-day chart
    reads conversations through (created_at, id) (0.2 s at 1M conversations); per-day item
    counts would have to read a third of a 10M-row table (11 s, measured).
    """
    now = timezone.now()
    today = timezone.localdate(now)
    first_day = today - timedelta(days=days - 1)
    since = timezone.make_aware(datetime.combine(first_day, time.min))
    per_day = dict(
        Conversation.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values_list("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    return Overview(
        projects=Project.objects.count(),
        conversations=_table_size(Conversation),
        items=_table_size(Item),
        conversations_24h=Conversation.objects.filter(created_at__gte=now - timedelta(hours=24)).count(),
        conversations_per_day=[(first_day + timedelta(days=n), per_day.get(first_day + timedelta(days=n), 0))
                               for n in range(days)],
    )
