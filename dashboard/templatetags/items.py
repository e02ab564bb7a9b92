"""Render conversation items for reading. Everything here is data for templates, which escape it."""

import json
from datetime import UTC, datetime

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

from conversations import search

register = template.Library()

MESSAGE_TEXT_PARTS = {"input_text", "output_text", "text", "summary_text", "reasoning_text"}


def pretty_json(value) -> str:
    """Pretty-print JSON, or a string that holds JSON (function arguments); other strings as they are."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


def describe(body: dict) -> dict:
    """What a reader needs of an item: its kind, role, readable parts, pretty JSON."""
    item_type = body.get("type", "message")
    view = {"type": item_type, "id": body.get("id", ""), "status": body.get("status") or "",
            "role": body.get("role") or "", "raw": json.dumps(body, indent=2, ensure_ascii=False)}
    if item_type == "message":
        view["kind"] = "message"
        view["parts"] = [_part(part) for part in body.get("content") or [] if isinstance(part, dict)]
    elif item_type in ("function_call", "custom_tool_call", "mcp_call", "mcp_approval_request"):
        view["kind"] = "call"
        view["name"] = body.get("name", "")
        view["call_id"] = body.get("call_id", "")
        view["arguments"] = pretty_json(body.get("arguments", body.get("input", "")))
        if body.get("output") is not None:
            view["output"] = pretty_json(body["output"])
    elif item_type.endswith("_output") and "output" in body:
        view["kind"] = "output"
        view["call_id"] = body.get("call_id", "")
        output = body["output"]
        if isinstance(output, list) and all(
            isinstance(p, dict) and p.get("type") in MESSAGE_TEXT_PARTS for p in output
        ):
            output = "\n".join(p.get("text", "") for p in output)
        view["output"] = pretty_json(output)
    elif item_type == "reasoning":
        view["kind"] = "reasoning"
        view["summaries"] = [s.get("text", "") for s in body.get("summary") or [] if isinstance(s, dict)]
    else:
        view["kind"] = "other"
    return view


def _part(part: dict) -> dict:
    part_type = part.get("type", "")
    if part_type in MESSAGE_TEXT_PARTS:
        return {"kind": "text", "type": part_type, "text": part.get("text", "")}
    if part_type == "refusal":
        return {"kind": "refusal", "type": part_type, "text": part.get("refusal", "")}
    if part_type in ("input_image", "computer_screenshot"):
        url = part.get("image_url") or ""
        return {"kind": "image", "type": part_type, "url": url, "file_id": part.get("file_id") or "",
                "previewable": url.startswith(("https://", "http://"))}
    if part_type == "input_file":
        return {"kind": "file", "type": part_type, "name": part.get("filename") or part.get("file_id") or "file",
                "url": part.get("file_url") or ""}
    return {"kind": "other", "type": part_type, "raw": json.dumps(part, indent=2, ensure_ascii=False)}


@register.inclusion_tag("dashboard/_item.html", takes_context=True)
def item_card(context, item, conversation):
    return {"item": item, "view": describe(item.body), "conversation": conversation,
            "perms": context.get("perms"), "csrf_token": context.get("csrf_token")}


@register.inclusion_tag("dashboard/_time.html")
def timestamp(value: datetime):
    """A <time> that app.js shows in the viewer's local time; the exact UTC value on hover."""
    utc = value.astimezone(UTC) if value else None
    return {"value": utc}


@register.filter
def highlight(snippet: str, query: str) -> str:
    """A search snippet with the matched words in <mark>; everything else escaped."""
    marked = search.snippet_for_display(snippet, query)
    escaped = conditional_escape(marked)
    return mark_safe(escaped.replace(search.MARK_START, "<mark>").replace(search.MARK_END, "</mark>"))


@register.filter
def metadata_summary(metadata: dict, limit: int = 3) -> str:
    pairs = [f"{k}={v}" for k, v in list((metadata or {}).items())[:limit]]
    more = len(metadata or {}) - limit
    return ", ".join(pairs) + (f" (+{more})" if more > 0 else "")
