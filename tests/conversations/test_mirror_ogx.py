"""manage.py mirror from a live ogx 1.5.0 (tests/peer/ogx.py), populated with every item type it
accepts, compared item by item with what it returns."""

import copy
import os
import subprocess

import httpx2
import pytest

from conversations.models import Conversation
from tests.conversations.test_mirror import Upstream, local_bodies, run_mirror
from tests.peer import ogx
from tests.servers import free_port, wait_for_port

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def peer(tmp_path_factory):
    binary = ogx.executable()
    if binary is None:
        if os.environ.get("CONVOSCOPE_REQUIRE_OGX") == "1":
            pytest.fail("ogx is not installed: run `.venv/bin/python -m tests.peer.ogx`")
        pytest.skip("ogx 1.5.0 is not installed (`.venv/bin/python -m tests.peer.ogx` installs it)")
    run = tmp_path_factory.mktemp("ogx")
    (run / "config.yaml").write_text("distro_name: conversations-only\nproviders: {}\nserver:\n  host: 127.0.0.1\n")
    port = free_port()
    with open(run / "log", "wb") as log:
        server = subprocess.Popen([str(binary), "run", "config.yaml", "--port", str(port), "--insecure"], cwd=run,
                                  env={**os.environ, "SQLITE_STORE_DIR": str(run)}, stdout=log,
                                  stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, server, "ogx", run / "log", timeout=120)
            yield Upstream(base_url=f"http://127.0.0.1:{port}/v1", api_key="any")
        finally:
            server.terminate()
            server.wait(timeout=20)


def expected(item: dict) -> dict:
    """What a copy holds of an ogx item: the same JSON, except ogx's messages (string content,
    status null), which the SDK's Message model reads only with content as parts and a status."""
    if item.get("type") != "message":
        return item
    item = copy.deepcopy(item)
    if isinstance(item["content"], str):
        part = "output_text" if item["role"] == "assistant" else "input_text"
        item["content"] = [{"type": part, "text": item["content"], **({"annotations": []} if part == "output_text"
                                                                       else {})}]
    item["status"] = item["status"] or "completed"
    return item


def test_a_conversation_with_every_item_type_ogx_accepts_is_copied_item_by_item(peer, item_examples):
    base = peer.base_url
    conversation_id = httpx2.post(f"{base}/conversations", json={"metadata": {"user_id": "u1"}}).json()["id"]
    accepted = 0
    extra = [  # ogx's own non-standard output for these
        {"type": "mcp_call", "id": "mcp_1", "server_label": "s", "name": "n", "arguments": "{}", "error": "boom"},
        {"type": "web_search_call", "id": "ws_1", "status": "completed"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "x", "annotations": [],
         "logprobs": [{"token": "a", "logprob": 1, "bytes": [9007199254740993], "top_logprobs": []}]}]},
    ]
    for item in item_examples["valid_inputs"] + extra:
        answer = httpx2.post(f"{base}/conversations/{conversation_id}/items", json={"items": [item]})
        accepted += answer.status_code == 200
    upstream = httpx2.get(f"{base}/conversations/{conversation_id}/items",
                          params={"order": "asc", "limit": 100}).json()["data"]
    assert accepted == len(upstream) >= 17

    out, _ = run_mirror(peer, conversation_id, args=["--lenient"])

    assert f"{conversation_id}: copied, {len(upstream)} item(s)" in out
    copied = local_bodies(conversation_id)
    assert len(copied) == len(upstream)
    for mine, theirs in zip(copied, upstream, strict=True):
        assert mine == expected(theirs)
    marked = Conversation.objects.get(public_id=conversation_id).items.exclude(unvalidated="")
    # only ogx's non-standard shapes: mcp_call.error as a string, web_search_call.action null
    assert sorted(marked.values_list("type", flat=True)) == ["mcp_call", "web_search_call"]
    assert Conversation.objects.get(public_id=conversation_id).metadata == {"user_id": "u1"}
