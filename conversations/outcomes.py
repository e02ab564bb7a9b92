"""What happened to an item: did the call, the output or the approval go wrong, and which call
does an output answer. One set of rules for every reader (the console's timeline and its summary,
search results' failure marker), so "failed" means the same thing everywhere.

The rules read the stored item body as the SDK defines it:
- a `status` of `failed`, `incomplete` or `cancelled` (any item type that carries one);
- an error carried by an output: an `error` key (MCP calls; an output whose text is a JSON object
  with an `error` key), a shell command that exited non-zero or timed out;
- an MCP approval that was denied (`approve: false`).
"""

import json
from dataclasses import dataclass

# States, worst first. "ok" covers "completed" and items that carry no status at all.
FAILED, INCOMPLETE, CANCELLED, ERROR, DENIED, IN_PROGRESS, OK = (
    "failed", "incomplete", "cancelled", "error", "denied", "in_progress", "ok")
# States a support agent must see: everything that did not simply work.
PROBLEMS = frozenset({FAILED, INCOMPLETE, CANCELLED, ERROR, DENIED})
# Statuses of hosted tools still running when the item was stored.
RUNNING_STATUSES = frozenset({"in_progress", "searching", "generating", "interpreting", "calling"})

# Each call type and the type of the item that answers it; both carry the same `call_id`.
CALL_OUTPUTS = {
    "function_call": "function_call_output",
    "custom_tool_call": "custom_tool_call_output",
    "computer_call": "computer_call_output",
    "local_shell_call": "local_shell_call_output",
    "shell_call": "shell_call_output",
    "apply_patch_call": "apply_patch_call_output",
    "program": "program_output",
    "tool_search_call": "tool_search_output",
    "mcp_approval_request": "mcp_approval_response",
}
OUTPUT_CALLS = {output: call for call, output in CALL_OUTPUTS.items()}


@dataclass(frozen=True)
class Outcome:
    state: str
    reason: str = ""  # in words, for the reader: "exit code 2", the error's message, "denied"

    @property
    def is_problem(self) -> bool:
        return self.state in PROBLEMS


def outcome(body: dict) -> Outcome:
    """The outcome of one stored item."""
    status = body.get("status")
    error = _error_of(body)
    if status in (FAILED, INCOMPLETE, CANCELLED):
        return Outcome(status, error or "")
    if error:
        return Outcome(ERROR, error)
    if body.get("type") == "mcp_approval_response" and body.get("approve") is False:
        return Outcome(DENIED, body.get("reason") or "approval denied")
    if status in RUNNING_STATUSES:
        return Outcome(IN_PROGRESS, str(status))
    return Outcome(OK)


def link_key(body: dict) -> tuple[str, str] | None:
    """("call", key) for a call, ("output", key) for the item answering one, by the key they share
    (`call_id`; an MCP approval response names its request's `id`). None for any other item."""
    item_type = body.get("type")
    if item_type == "mcp_approval_request":
        return ("call", body["id"]) if body.get("id") else None
    if item_type == "mcp_approval_response":
        key = body.get("approval_request_id")
        return ("output", key) if key else None
    # A local shell call's output names the call in `id` (the SDK has no call_id on it).
    key = body.get("call_id") or (body.get("id") if item_type == "local_shell_call_output" else None)
    if not key:
        return None
    if item_type in CALL_OUTPUTS:
        return ("call", key)
    if item_type in OUTPUT_CALLS:
        return ("output", key)
    return None


def _error_of(body: dict) -> str:
    """The error an item carries, in words, or ""."""
    error = body.get("error")
    if error:
        return _words(error)
    output = body.get("output")
    if isinstance(output, str) and output.lstrip().startswith("{"):
        try:
            output = json.loads(output)
        except ValueError:
            return ""
    if isinstance(output, dict) and output.get("error"):
        return _words(output["error"])
    if body.get("type") == "shell_call_output" and isinstance(output, list):
        for chunk in output:
            result = chunk.get("outcome") if isinstance(chunk, dict) else None
            if not isinstance(result, dict):
                continue
            if result.get("type") == "timeout":
                return "timed out"
            if result.get("type") == "exit" and result.get("exit_code") not in (0, None):
                return f"exit code {result['exit_code']}"
    return ""


def _words(error) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or error.get("type") or json.dumps(error))
    return str(error)
