"""Full-text search over item text, one meaning on both databases.

PostgreSQL: the generated `search` tsvector column with its GIN index (migration 0003),
websearch-style queries ("refund -annual", "\"exact phrase\"", "cats or dogs"), ranked, with
highlighted fragments from ts_headline. SQLite: every word of the query must appear in the
text (case-insensitive substring): correct for plain words, not fast, no stemming.
"""

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
