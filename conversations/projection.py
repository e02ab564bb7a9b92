"""A stored item as the API returns it: fields only `include` brings, and the fields the Node SDK
declares required-but-nullable as null."""

import typing

# Fields the Node SDK declares required-but-nullable (`environment: … | null`) where the Python
# models leave them optional: returned as null when absent, so a typed Node client sees each one.
# Dotted names reach into nested objects. tests/sdk/test_node_types.py holds every returned item
# to the Node SDK's declarations, so a field missing here fails there.
NULL_WHEN_ABSENT = {
    "shell_call": ("environment", "action.max_output_length", "action.timeout_ms"),
    "shell_call_output": ("max_output_length",),
    "tool_search_call": ("call_id",),
    "tool_search_output": ("call_id",),
}


def item_for_output(body: dict, include: frozenset[str]) -> dict:
    """The stored body as the API returns it: two fields only when `include` asks for them, and
    the Node SDK's required-but-nullable fields as null (items stored before they were filled)."""
    body = with_nulls(body)
    item_type = body.get("type")
    if item_type == "reasoning" and "reasoning.encrypted_content" not in include and "encrypted_content" in body:
        body = {k: v for k, v in body.items() if k != "encrypted_content"}
    elif item_type == "message" and "message.output_text.logprobs" not in include:
        content = body.get("content")
        if isinstance(content, list) and any(isinstance(p, dict) and "logprobs" in p for p in content):
            body = dict(body)
            body["content"] = [
                {k: v for k, v in part.items() if k != "logprobs"} if isinstance(part, dict) else part
                for part in content
            ]
    return body


def with_nulls(body: dict) -> dict:
    """`body` with each NULL_WHEN_ABSENT field of its type present (a copy when one is added)."""
    names = NULL_WHEN_ABSENT.get(body.get("type", ""), ())
    if all(_has_path(body, name) for name in names):
        return body
    body = dict(body)
    for name in names:
        *parents, leaf = name.split(".")
        target = body
        for parent in parents:
            if not isinstance(target.get(parent), dict):
                break
            target[parent] = target = dict(target[parent])
        else:
            target.setdefault(leaf, None)
    return body


def _has_path(body: dict, name: str) -> bool:
    """True when the dotted field is present, or cannot be (a parent is absent or not an object)."""
    current: typing.Any = body
    for part in name.split("."):
        if not isinstance(current, dict):
            return True
        if part not in current:
            return False
        current = current[part]
    return True
