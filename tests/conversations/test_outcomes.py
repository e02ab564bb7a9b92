"""One meaning of "went wrong" for every reader of items (conversations.outcomes)."""

import pytest

from conversations.outcomes import link_key, outcome


@pytest.mark.parametrize(("body", "state", "reason"), [
    ({"type": "function_call", "status": "completed", "call_id": "c", "name": "f", "arguments": "{}"}, "ok", ""),
    ({"type": "message", "role": "user", "content": "hi"}, "ok", ""),
    ({"type": "function_call", "status": "failed", "call_id": "c"}, "failed", ""),
    ({"type": "function_call", "status": "incomplete", "call_id": "c"}, "incomplete", ""),
    ({"type": "web_search_call", "status": "cancelled"}, "cancelled", ""),
    ({"type": "web_search_call", "status": "searching"}, "in_progress", "searching"),
    ({"type": "mcp_call", "name": "t", "error": "tool crashed"}, "error", "tool crashed"),
    ({"type": "mcp_call", "status": "failed", "error": {"message": "timeout after 30s"}}, "failed",
     "timeout after 30s"),
    ({"type": "function_call_output", "call_id": "c", "output": '{"error": "refund not allowed"}'}, "error",
     "refund not allowed"),
    ({"type": "function_call_output", "call_id": "c", "output": '{"ok": true}'}, "ok", ""),
    ({"type": "function_call_output", "call_id": "c", "output": "{not json"}, "ok", ""),
    ({"type": "shell_call_output", "call_id": "c",
      "output": [{"stdout": "", "stderr": "boom", "outcome": {"type": "exit", "exit_code": 2}}]}, "error",
     "exit code 2"),
    ({"type": "shell_call_output", "call_id": "c", "output": [{"outcome": {"type": "timeout"}}]}, "error",
     "timed out"),
    ({"type": "shell_call_output", "call_id": "c", "output": [{"outcome": {"type": "exit", "exit_code": 0}}]},
     "ok", ""),
    ({"type": "mcp_approval_response", "approval_request_id": "r", "approve": False}, "denied", "approval denied"),
    ({"type": "mcp_approval_response", "approval_request_id": "r", "approve": True}, "ok", ""),
])
def test_outcome(body, state, reason):
    result = outcome(body)
    assert (result.state, result.reason) == (state, reason)
    assert result.is_problem == (state in {"failed", "incomplete", "cancelled", "error", "denied"})


@pytest.mark.parametrize(("body", "key"), [
    ({"type": "function_call", "call_id": "call_1"}, ("call", "call_1")),
    ({"type": "function_call_output", "call_id": "call_1"}, ("output", "call_1")),
    ({"type": "local_shell_call_output", "id": "call_4"}, ("output", "call_4")),
    ({"type": "mcp_approval_request", "id": "mcpr_1"}, ("call", "mcpr_1")),
    ({"type": "mcp_approval_response", "approval_request_id": "mcpr_1"}, ("output", "mcpr_1")),
    ({"type": "tool_search_call", "call_id": None}, None),
    ({"type": "message", "role": "user", "content": "hi"}, None),
    ({"type": "web_search_call", "id": "ws_1"}, None),
])
def test_link_key(body, key):
    assert link_key(body) == key
