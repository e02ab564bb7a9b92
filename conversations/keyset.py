"""Keyset pagination: the one way every reader pages (API lists, console search and timeline,
export, audit log).

Rows are ordered by a strictly increasing key -- (position), (created_at, id), (id) -- and a page
starts right after a cursor's key values, so page N costs what page 1 costs: no OFFSET, no COUNT,
and `has_more` comes from fetching one row more than the page holds.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet


@dataclass(frozen=True)
class Page:
    data: list[Any]
    first_id: Any
    last_id: Any
    has_more: bool


def ordered(queryset: QuerySet, key: Sequence[str], order: str = "asc") -> QuerySet:
    return queryset.order_by(*(field if order == "asc" else f"-{field}" for field in key))


def after(queryset: QuerySet, key: Sequence[str], values: Sequence, order: str = "asc") -> QuerySet:
    """The rows that come after `values` (the cursor's key) in `order`.

    (a, b) > (x, y) is written out as `a >= x AND (a > x OR (a = x AND b > y))`: the first,
    redundant condition is the index's lower bound, without which PostgreSQL reads the index from
    its start and filters the rows before the cursor away one by one (a deep page then costs
    more than page 1; tests/conversations/test_keyset.py shows it doesn't).
    """
    op, bound = ("gt", "gte") if order == "asc" else ("lt", "lte")
    *leading, last = zip(key, values, strict=True)
    condition = Q(**{f"{last[0]}__{op}": last[1]})
    for field, value in reversed(leading):
        condition = Q(**{f"{field}__{op}": value}) | Q(**{field: value}) & condition
    if leading:
        queryset = queryset.filter(**{f"{leading[0][0]}__{bound}": leading[0][1]})
    return queryset.filter(condition)


def page(queryset: QuerySet, *, key: Sequence[str], cursor: Sequence | None = None, order: str = "asc",
         limit: int = 20, id_of: Callable[[Any], Any] = lambda row: row.public_id) -> Page:
    """One page of `queryset` in `order` of `key`, starting after `cursor` (key values) if given."""
    if cursor is not None:
        queryset = after(queryset, key, cursor, order)
    rows = list(ordered(queryset, key, order)[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    return Page(data=rows, first_id=id_of(rows[0]) if rows else None, last_id=id_of(rows[-1]) if rows else None,
                has_more=has_more)
