"""The Node openai SDK (npm `openai`, pinned in tests/sdk/node/) against Convoscope.

1. Every shape the server returns (conversations, deleted conversations, item lists, and every
   item type with its optional fields present and absent) is assigned to the Node SDK's declared
   TypeScript type and type-checked with `tsc --strict`: a missing required field, a wrong type
   or an undeclared field is a compile error, reported here with the call and item it came from.
   The same JSON is parsed by the Python SDK's models, which must find no field they do not know.
2. The Node SDK's eight calls, with every parameter they take, run against a live server: nothing
   the SDK sends is refused (spec §12 refuses unknown parameters).

Skipped when node or npm is missing, or the packages cannot be installed; with
CONVOSCOPE_REQUIRE_NODE set (CI), that is a failure instead.
"""

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from openai.types.conversations import Conversation, ConversationDeletedResource, ConversationItem, ConversationItemList
from pydantic import BaseModel, TypeAdapter

from tests.conftest import ITEM_EXAMPLES
from tests.factories import make_api_key, make_conversation, make_project
from tests.sdk import node_sdk

SCRIPT = Path(__file__).parent / "node" / "every_call.mjs"
TSC_TIMEOUT_SECONDS = 300

# Items sent with only what the SDKs' input types require, so the server fills the rest: every
# such field must still come back as the Node SDK declares it.
MINIMAL_ITEMS = [
    {"type": "tool_search_call", "arguments": {"query": "weather"}},
    {"type": "tool_search_output", "tools": []},
    {"type": "shell_call", "call_id": "call_min", "action": {"commands": ["ls"]}},
    {"type": "shell_call_output", "call_id": "call_min",
     "output": [{"stdout": "", "stderr": "", "outcome": {"type": "timeout"}}]},
    {"type": "function_call", "call_id": "call_fn", "name": "f", "arguments": "{}"},
    {"type": "function_call_output", "call_id": "call_fn", "output": "ok"},
    {"role": "assistant", "content": "plain"},
    {"type": "reasoning", "summary": []},
]
INCLUDE_ALL = "?include[]=reasoning.encrypted_content&include[]=message.output_text.logprobs"


@pytest.fixture(scope="session")
def node_packages() -> Path:
    try:
        return node_sdk.install()
    except node_sdk.NodeUnavailable as exc:
        if os.environ.get("CONVOSCOPE_REQUIRE_NODE"):
            pytest.fail(f"CONVOSCOPE_REQUIRE_NODE is set but the Node SDK is unavailable: {exc}")
        pytest.skip(f"the Node SDK is unavailable: {exc}")


def workdir(tmp_path: Path, node_packages: Path) -> Path:
    """tmp_path, where `import 'openai'` finds the pinned packages."""
    (tmp_path / "node_modules").symlink_to(node_packages / "node_modules")
    return tmp_path


# --- 1. returned shapes against the declarations ---------------------------------------------


def returned_shapes(api, project) -> list[tuple[str, str, object]]:
    """(label, Node type name, JSON) for every response of every call, over every item shape,
    with and without the fields `include` adds."""
    shapes = []
    valid = copy.deepcopy(ITEM_EXAMPLES["valid_inputs"])
    batches = [valid[start:start + 20] for start in range(0, len(valid), 20)] + [MINIMAL_ITEMS]
    make_conversation(project, items=[{"id": "msg_ref", "role": "user", "content": "referenced"}])
    batches.append([{"type": "item_reference", "id": "msg_ref"}])
    for number, batch in enumerate(batches):
        for query in ("", INCLUDE_ALL):
            label = f"#{number}{query}"
            created = api.post("/v1/conversations", {"metadata": {"batch": str(number)}}, format="json").json()
            base = f"/v1/conversations/{created['id']}"
            shapes.append((f"conversations.create {label}", "Conversation", created))
            response = api.post(f"{base}/items{query}", {"items": batch}, format="json")
            assert response.status_code == 200, response.json()
            shapes.append((f"items.create {label}", "ConversationItemList", response.json()))
            listed = api.get(f"{base}/items{query or '?'}&limit=100&order=asc").json()
            shapes.append((f"items.list {label}", "ConversationItemList", listed))
            for item in listed["data"]:
                retrieved = api.get(f"{base}/items/{item['id']}{query}").json()
                shapes.append((f"items.retrieve {label} {item['type']} {item['id']}", "ConversationItem", retrieved))
            shapes.append((f"conversations.retrieve {label}", "Conversation", api.get(base).json()))
            shapes.append((f"conversations.update {label}", "Conversation",
                           api.post(base, {"metadata": None}, format="json").json()))
            first = listed["data"][0]["id"]
            shapes.append((f"items.delete {label}", "Conversation", api.delete(f"{base}/items/{first}").json()))
            shapes.append((f"conversations.delete {label}", "ConversationDeletedResource", api.delete(base).json()))
    return shapes


def type_check(directory: Path, shapes: list[tuple[str, str, object]]) -> list[str]:
    """tsc's complaints, each labelled with the response it is about; [] when every shape fits."""
    lines = [
        "import type { Conversation, ConversationDeletedResource }"
        " from 'openai/resources/conversations/conversations';",
        "import type { ConversationItem, ConversationItemList } from 'openai/resources/conversations/items';",
    ]
    labels = {}
    for index, (label, type_name, value) in enumerate(shapes):
        labels[len(lines) + 1] = label
        lines.append(f"export const r{index}: {type_name} = {json.dumps(value)};")
    source = directory / "returned.mts"
    source.write_text("\n".join(lines) + "\n")
    tsc = directory / "node_modules" / "typescript" / "bin" / "tsc"
    result = subprocess.run(
        ["node", str(tsc), "--noEmit", "--strict", "--skipLibCheck", "--target", "es2022", "--module", "nodenext",
         "--moduleResolution", "nodenext", str(source)],
        cwd=directory, capture_output=True, text=True, timeout=TSC_TIMEOUT_SECONDS,
    )
    if result.returncode == 0:
        return []
    problems = []
    for line in result.stdout.splitlines():
        if line.startswith(f"{source.name}(") and "): error" in line:
            number = int(line[len(source.name) + 1:].split(",")[0])
            problems.append(f"{labels.get(number, f'line {number}')}: {line.split('): ', 1)[1]}")
        elif problems:
            problems[-1] += "\n" + line  # tsc's explanation of the error above
    return problems or [result.stdout + result.stderr]


PYTHON_TYPES = {
    "Conversation": TypeAdapter(Conversation),
    "ConversationDeletedResource": TypeAdapter(ConversationDeletedResource),
    "ConversationItemList": TypeAdapter(ConversationItemList),
    "ConversationItem": TypeAdapter(ConversationItem),
}


def undeclared_fields(value: object, path: str) -> list[str]:
    """Fields a parsed Python SDK model kept as extras: the model does not declare them."""
    found = []
    if isinstance(value, BaseModel):
        found += [f"{path}.{key}" for key in (value.model_extra or {})]
        for name in type(value).model_fields:
            found += undeclared_fields(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list):
        for index, element in enumerate(value):
            found += undeclared_fields(element, f"{path}[{index}]")
    return found


def test_every_returned_shape_matches_the_node_and_python_sdk_types(api, project, tmp_path, node_packages):
    shapes = returned_shapes(api, project)
    returned_types = {value["type"] for _, type_name, value in shapes if type_name == "ConversationItem"}
    assert len(returned_types) == 29  # every member of the ConversationItem union

    python_problems = []
    for label, type_name, value in shapes:
        parsed = PYTHON_TYPES[type_name].validate_python(value)
        python_problems += [f"{label}: {field}" for field in undeclared_fields(parsed, type_name)]
    assert python_problems == []

    assert type_check(workdir(tmp_path, node_packages), shapes) == []


def test_the_type_check_does_catch_a_missing_required_field(tmp_path, node_packages):
    """The check above proves something only if tsc refuses what the Node SDK would not accept."""
    item = {"type": "shell_call", "id": "sh_1", "call_id": "c", "status": "completed",
            "action": {"commands": ["ls"], "max_output_length": None}}  # no environment, no timeout_ms
    problems = type_check(workdir(tmp_path, node_packages), [("a shell_call as stored before", "ConversationItem",
                                                              item)])
    assert len(problems) == 1 and problems[0].startswith("a shell_call as stored before: error TS")


# --- 2. the Node SDK's calls against a live server -------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_node_sdk_runs_every_call_with_every_parameter(live_server, tmp_path, node_packages):
    secret = make_api_key(make_project("acme"))[1]
    directory = workdir(tmp_path, node_packages)
    shutil.copyfile(SCRIPT, directory / SCRIPT.name)
    env = {**os.environ, "CONVOSCOPE_BASE_URL": f"{live_server.url}/v1", "CONVOSCOPE_API_KEY": secret}
    result = subprocess.run(["node", SCRIPT.name], cwd=directory, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    results = {entry["call"]: entry for entry in map(json.loads, result.stdout.splitlines())}

    assert list(results) == ["conversations.create", "conversations.retrieve", "conversations.update",
                             "items.create", "items.list", "items.list.after", "items.retrieve", "items.delete",
                             "conversations.delete", "conversations.create.misspelt"]
    include = "include%5B%5D=reasoning.encrypted_content&include%5B%5D=message.output_text.logprobs"
    assert [request["query"] for request in results["items.list"]["requests"]] == [
        f"?limit=2&order=asc&{include}",
        f"?limit=2&order=asc&{include}&after={results['items.list']['returned'][1]['id']}",
        f"?limit=2&order=asc&{include}&after={results['items.list']['returned'][3]['id']}",
    ]
    assert [item["content"][0]["text"] for item in results["items.list"]["returned"]] == [
        "hello", "m1", "m2", "m3", "m4"]
    assert results["conversations.update"]["returned"]["metadata"] == {"topic": "updated"}
    assert results["conversations.delete"]["returned"]["deleted"] is True
    assert results["conversations.create.misspelt"]["returned"] == {
        "refused": True, "status": 400, "param": "metdata", "code": "unknown_parameter"}
