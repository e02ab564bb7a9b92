"""Public ids: a type prefix and 48 random lowercase hex characters, as OpenAI's ids look.

The one place that knows the id format. Database rows keep their own integer keys;
only these strings ever appear in URLs and payloads.
"""

import re
import secrets

# Item type -> id prefix. Prefixes seen in OpenAI's examples where there are any,
# readable abbreviations otherwise (the SDK never checks prefixes).
ITEM_PREFIXES = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "file_search_call": "fs",
    "web_search_call": "ws",
    "image_generation_call": "ig",
    "computer_call": "cu",
    "computer_call_output": "cuo",
    "tool_search_call": "tsc",
    "tool_search_output": "tso",
    "additional_tools": "adt",
    "configuration_update": "cfg",
    "reasoning": "rs",
    "program": "prg",
    "program_output": "prgo",
    "compaction": "cmp",
    "code_interpreter_call": "ci",
    "local_shell_call": "lsh",
    "local_shell_call_output": "lsho",
    "shell_call": "sh",
    "shell_call_output": "sho",
    "apply_patch_call": "apc",
    "apply_patch_call_output": "apco",
    "mcp_list_tools": "mcpl",
    "mcp_approval_request": "mcpr",
    "mcp_approval_response": "mcpa",
    "mcp_call": "mcp",
    "custom_tool_call": "ctc",
    "custom_tool_call_output": "ctco",
}

# What a client may use as its own item id: URL-safe, at most 128 characters, and not "." or
# ".." (HTTP clients resolve those path segments away, so such an item could not be reached).
CLIENT_ID_RE = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9_.:-]{1,128}$")
# A conversation id brought in from elsewhere (import, mirror): the same alphabet, at most 64
# characters (the column's width). Ours are always conv_ + 48 hex characters.
IMPORTED_CONVERSATION_ID_RE = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9_.:-]{1,64}$")


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(24)}"


def new_conversation_id() -> str:
    return new_id("conv")


def new_item_id(item_type: str) -> str:
    return new_id(ITEM_PREFIXES.get(item_type, "item"))


def new_request_id() -> str:
    return f"req_{secrets.token_hex(16)}"
