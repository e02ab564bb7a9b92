"""Convoscope's JSON Lines format for moving conversations in and out: one conversation per line.

    {"id": "conv_…", "project": "acme",
     "created_at": "2026-03-01T09:30:00.123456+00:00", "updated_at": "2026-03-01T09:41:07.000512+00:00",
     "metadata": {"user_id": "u1"},
     "items": [{…the item's body, exactly as stored…}, …],
     "items_created_at": ["2026-03-01T09:30:00.123456+00:00", …]}

- `items` are oldest first, each the whole stored body: what the API returns when every
  `include` is asked for (encrypted reasoning, logprobs). `items_created_at` holds one time
  per item (the console shows them; the API does not).
- Times are UTC, ISO-8601 with microseconds: the API's unix seconds would lose precision.
- Keys inside `metadata` and the bodies are sorted and the JSON is compact, so the same data
  gives the same bytes whichever database it was read from: export, import into an empty
  database, export again, and the two files are identical.
- Lines are in creation order (oldest first, ties by insertion order).

The format is written here once (export_lines, used by `manage.py export_conversations` and
the console's downloads) and read here once (parse_line, used by `manage.py
import_conversations`); the rules for what may be stored stay in validators and services.
"""

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet

from . import keyset
from .errors import InvalidInput
from .models import Item
from .validators import parse_json

FIELDS = ("id", "project", "created_at", "updated_at", "metadata", "items", "items_created_at")
# Conversations read per query, and items fetched per query (a batch of conversations is cut
# so its items stay under this, unless one conversation alone is longer): memory stays
# bounded by the largest conversation, whatever the size of the export.
CONVERSATIONS_PER_QUERY = 500
ITEMS_PER_QUERY = 5000

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def export_line(*, public_id: str, project: str, created_at: datetime, updated_at: datetime, metadata: dict,
                bodies: list[dict], times: list[datetime]) -> str:
    """One conversation as one line of the format (without the newline)."""
    return (
        '{"id":' + _encode(public_id)
        + ',"project":' + _encode(project)
        + ',"created_at":' + _encode(format_time(created_at))
        + ',"updated_at":' + _encode(format_time(updated_at))
        + ',"metadata":' + _encode(metadata)
        + ',"items":' + _encode(bodies)
        + ',"items_created_at":' + _encode([format_time(t) for t in times])
        + "}"
    )


@dataclass(frozen=True)
class ExportedLine:
    text: str  # the line, without the newline
    items: int


def export_lines(conversations: QuerySet, *, conversations_per_query: int = CONVERSATIONS_PER_QUERY,
                 items_per_query: int = ITEMS_PER_QUERY) -> Iterator[ExportedLine]:
    """Every conversation of a (filtered) queryset as export lines, oldest first, streamed.

    Called by export_conversations and the console's downloads. Conversations are read in
    keyset pages on (created_at, id) (index conv_project_created or conv_created, never
    OFFSET); their items in one query per slice of the page, ordered by the unique index
    (conversation_id, position). A constant number of queries per page.
    """
    key = ("created_at", "pk")
    columns = ("pk", "public_id", "project__name", "created_at", "updated_at", "metadata", "item_count")
    cursor = None
    while True:
        page = conversations if cursor is None else keyset.after(conversations, key, cursor)
        rows = list(keyset.ordered(page, key).values_list(*columns)[:conversations_per_query])
        if not rows:
            return
        for group in _slices(rows, items_per_query):
            bodies: dict[int, list[dict]] = {row[0]: [] for row in group}
            times: dict[int, list[datetime]] = {row[0]: [] for row in group}
            items = (Item.objects.filter(conversation_id__in=list(bodies)).order_by("conversation_id", "position")
                     .values_list("conversation_id", "body", "created_at"))
            for conversation_pk, body, created_at in items:
                bodies[conversation_pk].append(body)
                times[conversation_pk].append(created_at)
            for pk, public_id, project, created_at, updated_at, metadata, _ in group:
                yield ExportedLine(
                    text=export_line(public_id=public_id, project=project, created_at=created_at,
                                     updated_at=updated_at, metadata=metadata, bodies=bodies[pk], times=times[pk]),
                    items=len(bodies[pk]),
                )
        if len(rows) < conversations_per_query:
            return
        cursor = (rows[-1][3], rows[-1][0])


def _slices(rows: list[tuple], items_per_query: int) -> Iterable[list[tuple]]:
    """Cut a page of conversations so each slice holds about `items_per_query` items (by item_count)."""
    group: list[tuple] = []
    count = 0
    for row in rows:
        if group and count + row[-1] > items_per_query:
            yield group
            group, count = [], 0
        group.append(row)
        count += row[-1]
    if group:
        yield group


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConversationRecord:
    """One line, its outline checked; the contents are checked by importing.conversation_import."""

    id: Any
    project: str | None
    created_at: datetime | None
    updated_at: datetime | None
    metadata: Any
    items: Any
    items_created_at: list[datetime] | None


def parse_line(line: str | bytes) -> ConversationRecord:
    """Read one line of the format; InvalidInput says what is wrong and where (`param`)."""
    data = parse_json(line)
    if not isinstance(data, dict):
        raise InvalidInput("Each line must be a JSON object (one conversation).", code="invalid_type")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise InvalidInput(f"Unknown field(s) {', '.join(map(repr, unknown))}; a line holds "
                           f"{', '.join(FIELDS)}.", param=unknown[0], code="unknown_parameter")
    if "id" not in data:
        raise InvalidInput("Missing required field 'id' (the conversation's id).", param="id",
                           code="missing_required_parameter")
    project = data.get("project")
    if project is not None and not isinstance(project, str):
        raise InvalidInput("Invalid 'project': expected a project name.", param="project", code="invalid_type")
    times = data.get("items_created_at")
    if times is not None:
        if not isinstance(times, list):
            raise InvalidInput("Invalid 'items_created_at': expected an array of times.", param="items_created_at",
                               code="invalid_type")
        times = [_parse_time(t, f"items_created_at[{n}]") for n, t in enumerate(times)]
    return ConversationRecord(
        id=data["id"],
        project=project,
        created_at=_parse_time(data["created_at"], "created_at") if data.get("created_at") is not None else None,
        updated_at=_parse_time(data["updated_at"], "updated_at") if data.get("updated_at") is not None else None,
        metadata=data.get("metadata"),
        items=data.get("items", []),
        items_created_at=times,
    )


def _parse_time(value: Any, param: str) -> datetime:
    """ISO-8601 (a time without an offset is taken as UTC) or unix seconds, as the API gives them."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            pass
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            parsed = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
            try:
                parsed.astimezone(UTC)  # 0001-01-01T00:00:00+01:00 is a time before year 1 in UTC
            except OverflowError:
                pass
            else:
                return parsed
    raise InvalidInput(f"Invalid '{param}': expected an ISO-8601 time such as 2026-03-01T09:30:00.123456+00:00.",
                       param=param, code="invalid_value")
