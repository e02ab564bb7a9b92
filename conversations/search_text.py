"""The plain text of an item that search reads (conversations/search.py indexes it)."""

import typing

# The plain text kept for search is cut at this length (full-text indexes have a size limit).
MAX_SEARCH_TEXT_CHARS = 100_000
TEXT_KEYS = frozenset(
    {"text", "refusal", "arguments", "output", "input", "query", "queries", "code", "logs", "name",
     "pattern", "command", "commands", "stdout", "stderr", "diff", "revised_prompt", "reason", "result"}
)
NON_TEXT_KEYS = frozenset({"image_url", "file_data", "file_url", "encrypted_content", "id", "call_id"})


def extract_text(body: dict) -> str:
    """The readable text of an item, for search: message text, call names and arguments, outputs."""
    chunks: list[str] = []

    def walk(value: typing.Any, key: str | None) -> None:
        if isinstance(value, str):
            if key in TEXT_KEYS:
                chunks.append(value)
        elif isinstance(value, list):
            for element in value:
                walk(element, key)
        elif isinstance(value, dict):
            for child_key, child in value.items():
                if child_key not in NON_TEXT_KEYS:
                    walk(child, child_key)

    if body.get("type") == "image_generation_call":
        walk({k: v for k, v in body.items() if k != "result"}, None)
    else:
        walk(body, None)
    return "\n".join(chunks)[:MAX_SEARCH_TEXT_CHARS]
