"""Full-text search over item text, one meaning on both databases.

PostgreSQL: the generated `search` tsvector column with its GIN index (migration 0003),
websearch-style queries ("refund -annual", "\"exact phrase\"", "cats or dogs"), ranked, with
highlighted fragments from ts_headline. SQLite: every word of the query must appear in the
text (case-insensitive substring): correct for plain words, not fast, no stemming.
"""

import json
import re

from django.db import connection
from django.db.models import BooleanField, FloatField, Q, TextField
from django.db.models.expressions import RawSQL
from django.db.models.functions import Substr

SEARCH_CONFIG = "english"
# Highlight markers in snippets: control characters cannot come from the HTML side, and the
# template filter escapes the text before turning them into <mark> tags.
MARK_START, MARK_END = "\x02", "\x03"
SNIPPET_CHARS = 240


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def words(text: str) -> list[str]:
    """The plain words of a query (quotes and operators dropped), for SQLite and highlighting."""
    found = re.findall(r"(?<![\w-])-?\w[\w']*", text)
    # Operators and negated words are PostgreSQL syntax; one-letter words would match everything.
    return [w for w in found if w.lower() not in {"or", "and"} and not w.startswith("-") and len(w) > 1]


# Matching items are "common" above this share of all items: walking conversations newest
# first then finds a page of them within a few hundred conversations. Below it, the matching
# conversations are first collected from the GIN index. The share sits above PostgreSQL's guess
# for a word it has no statistics for (at most 0.5% of rows), so unknown words count as rare:
# at 10M items, walking for a word no item has took 6.4 s; collecting it takes 1 ms.
COMMON_SHARE = 0.01
# At most this many matching items are collected (the index read stops there); reaching it
# means the word was not rare after all, and the walk is used.
SPARSE_ITEMS = 5_000


def sparse_matches(text: str) -> list[int] | None:
    """Ids of the conversations with an item matching `text` when such items are rare on
    PostgreSQL, else None (SQLite: always None; its LIKE scan has no index to choose)."""
    if not is_postgres():
        return None
    query = f"websearch_to_tsquery('{SEARCH_CONFIG}', %s)"
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'conversations_item'::regclass")
        items = max(cursor.fetchone()[0], 1)  # -1 before the first ANALYZE
        cursor.execute(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM conversations_item WHERE search @@ {query}", [text])
        plan = cursor.fetchone()[0]
        estimate = (plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]["Plan Rows"]
        if estimate > SPARSE_ITEMS and estimate / items > COMMON_SHARE:
            return None
        # No DISTINCT: it would read every match before the LIMIT could stop the scan.
        cursor.execute(f"SELECT conversation_id FROM conversations_item WHERE search @@ {query} LIMIT %s",
                       [text, SPARSE_ITEMS + 1])
        rows = cursor.fetchall()
    if len(rows) > SPARSE_ITEMS:
        return None
    return sorted({row[0] for row in rows})


def item_match(text: str):
    """A condition on items (unqualified columns, so it also works inside subqueries)."""
    if is_postgres():
        return RawSQL(f"search @@ websearch_to_tsquery('{SEARCH_CONFIG}', %s)", (text,), output_field=BooleanField())
    query_words = words(text)
    if not query_words:
        return Q(pk__in=[])  # like PostgreSQL: a query without words matches nothing
    condition = Q()
    for word in query_words:
        condition &= Q(text__icontains=word)
    return condition


def best_first(items, text: str):
    """Matching items, best match first: by rank on PostgreSQL, first in the timeline on SQLite."""
    if is_postgres():
        rank = RawSQL(f"ts_rank(search, websearch_to_tsquery('{SEARCH_CONFIG}', %s))", (text,),
                      output_field=FloatField())
        return items.annotate(rank=rank).order_by("-rank", "position")
    return items.order_by("position")


def item_snippet(text: str):
    """A short fragment of the item around the match, with the matched words between markers."""
    if is_postgres():
        options = (f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=30, MinWords=12, "
                   "MaxFragments=2, FragmentDelimiter=\" … \"")
        return RawSQL(
            f"ts_headline('{SEARCH_CONFIG}', text, websearch_to_tsquery('{SEARCH_CONFIG}', %s), %s)",
            (text, options), output_field=TextField(),
        )
    return Substr("text", 1, 4000)  # cut and marked in Python: see snippet_for_display


def snippet_for_display(snippet: str | None, query: str) -> str:
    """Markers around the query's words, and a window around the first match when the
    database did not pick one (SQLite)."""
    if not snippet:
        return ""
    if MARK_START in snippet:
        return snippet
    found = [w for w in words(query) if w]
    if not found:
        return snippet[:SNIPPET_CHARS]
    pattern = re.compile("|".join(re.escape(w) for w in sorted(found, key=len, reverse=True)), re.IGNORECASE)
    first = pattern.search(snippet)
    start = max(0, first.start() - SNIPPET_CHARS // 3) if first else 0
    window = snippet[start:start + SNIPPET_CHARS]
    marked = pattern.sub(lambda m: f"{MARK_START}{m.group(0)}{MARK_END}", window)
    return ("…" if start else "") + marked + ("…" if start + SNIPPET_CHARS < len(snippet) else "")
