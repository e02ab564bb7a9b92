"""Every composed read both front doors share: lookups by public id and keyset pages
(conversations.keyset: never OFFSET or COUNT).
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Substr, TruncDate
from django.utils import timezone

from . import keyset, search
from .errors import InvalidInput, NotFound
from .keyset import Page
from .models import Conversation, DeletedConversation, DeletedItem, Item, Project

__all__ = ["Page"]  # the page type every reader returns (api/pagination.py)


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

    `after` is an item id; the page holds the items that come after it in `order`. An item
    deleted since still works as a cursor (its position is kept: DeletedItem), so a client can
    delete what it lists as it goes. Served by the unique index (conversation_id, position).
    """
    cursor = None
    if after:
        position = (Item.objects.filter(conversation=conversation).where(public_id=after)
                    .values_list("position", flat=True).first())
        if position is None:
            position = (DeletedItem.objects.filter(conversation=conversation).where(public_id=after)
                        .order_by("-pk").values_list("position", flat=True).first())
        if position is None:
            raise InvalidInput(f"Invalid 'after': no item with id '{after}' in this conversation.", param="after")
        cursor = (position,)
    items = Item.objects.filter(conversation=conversation).defer("text")
    return keyset.page(items, key=("position",), cursor=cursor, order=order, limit=limit)


CONVERSATION_KEY = ("created_at", "pk")


def conversation_page(
    *, conversations: QuerySet, project_id: int | None, after: str | None = None, limit: int = 20,
    order: str = "desc",
) -> Page:
    """One page of conversations, newest first by default (API list, console search).

    `conversations` is an already scoped and filtered queryset (see filters.py). Keyset on
    (created_at, id), served by the index (project, created_at, id). The `after` conversation is
    looked up in the caller's project (`project_id`; None: every project, the console) without
    the filters, so a cursor stays valid when the conversation it names no longer matches them,
    or has been deleted since (DeletedConversation keeps where it stood).
    """
    cursor = None
    if after:
        scope = Conversation.objects.all() if project_id is None else Conversation.objects.for_project(project_id)
        cursor = scope.where(public_id=after).values_list(*CONVERSATION_KEY).first()
        if cursor is None:
            deleted = DeletedConversation.objects.where(public_id=after)
            if project_id is not None:
                deleted = deleted.filter(project_id=project_id)
            cursor = deleted.order_by("-pk").values_list("created_at", "conversation_pk").first()
        if cursor is None:
            raise InvalidInput(f"Invalid 'after': no conversation with id '{after}'.", param="after")
    return keyset.page(conversations, key=CONVERSATION_KEY, cursor=cursor, order=order, limit=limit)


def purge_candidates(*, project: Project, cutoff: datetime) -> QuerySet:
    """What retention deletes of a project: its conversations created before the cutoff, by the
    created_before the FilterSets apply. Called by retention.conversations_purge; counted by
    `manage.py purge` for its progress bar."""
    return Conversation.objects.for_project(project.pk).created_before(cutoff)


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
    return keyset.page(events.select_related("project"), key=("pk",), cursor=None if after is None else (after,),
                       order="desc", limit=limit, id_of=lambda event: event.pk)


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
