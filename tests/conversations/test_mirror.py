"""manage.py mirror, against a second, real Convoscope server as the upstream.

The upstream is another Convoscope process (`manage.py runserver`) with its own SQLite
database, started once for this module. Conversation ids are unique across the whole
database, so a copy can never live in the same database as its original: pytest-django's
live_server shares the test database, and mirroring from it into another project is
(correctly) refused, as the last tests show. A second server with its own database is also
what mirroring is for. The mirror runs in-process and writes into the test database (SQLite
or PostgreSQL, whichever the suite runs on). Upstream data is made through its API with the
openai SDK, i.e. through its services.
"""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import httpx2
import openai
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from openai import OpenAI

from conversations import importing, item_rules, mirror, services
from conversations.models import AuditEvent, Conversation
from tests.factories import make_api_key, make_conversation, make_messages, make_project
from tests.servers import free_port, wait_for_port

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Upstream:
    base_url: str
    api_key: str

    def sdk(self) -> OpenAI:
        """A strict client of the upstream (the SDK checks every answer against its models)."""
        return OpenAI(base_url=self.base_url, api_key=self.api_key, _strict_response_validation=True,
                      max_retries=0)

    def raw_items(self, conversation_id: str) -> list[dict]:
        """The upstream's items as JSON off the wire (not through the SDK), oldest first, all fields."""
        params = [("order", "asc"), ("limit", "100")] + [("include[]", value) for value in mirror.INCLUDE]
        items, after = [], None
        while True:
            page = httpx2.get(f"{self.base_url}/conversations/{conversation_id}/items",
                              params=params + ([("after", after)] if after else []),
                              headers={"Authorization": f"Bearer {self.api_key}"}).json()
            items += page["data"]
            if not page["has_more"]:
                return items
            after = page["last_id"]


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    home = tmp_path_factory.mktemp("upstream")
    # Rate limits are not under test here (the SDK would wait out a 429 anyway).
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{home}/upstream.sqlite3", "DJANGO_DEBUG": "0",
           "DJANGO_SECURE": "0", "CONVOSCOPE_API_RATE_LIMIT": "off"}
    env.pop("REDIS_URL", None)
    manage = [sys.executable, str(REPO / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, cwd=REPO, check=True, timeout=300)
    created = subprocess.run([*manage, "create_api_key", "--project", "upstream"], env=env, cwd=REPO, check=True,
                             capture_output=True, text=True, timeout=60)
    port = free_port()
    with open(home / "server.log", "wb") as log:
        server = subprocess.Popen([*manage, "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"],
                                  env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, server, "the upstream server", home / "server.log")
            yield Upstream(base_url=f"http://127.0.0.1:{port}/v1", api_key=created.stdout.splitlines()[-1])
        finally:
            server.terminate()
            server.wait(timeout=20)


def make_upstream(upstream: Upstream, items: list[dict], metadata: dict | None = None) -> str:
    """A conversation on the upstream, its items sent 20 at a time (the API's limit)."""
    with upstream.sdk() as sdk:
        conversation = sdk.conversations.create(items=items[:20], metadata=metadata)
        for start in range(20, len(items), 20):
            sdk.conversations.items.create(conversation.id, items=items[start:start + 20])
    return conversation.id


def run_mirror(upstream: Upstream, *ids: str, project: str = "copy", args=()) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("mirror", *ids, "--base-url", upstream.base_url, "--api-key", upstream.api_key,
                 "--project", project, "--no-progress", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def mirror_failing(upstream: Upstream, *ids: str, args=()) -> tuple[str, str]:
    err = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("mirror", *ids, "--base-url", upstream.base_url, "--api-key", upstream.api_key,
                     "--project", "copy", "--no-progress", *args, stdout=StringIO(), stderr=err)
    return str(failure.value), err.getvalue()


def local_bodies(conversation_id: str) -> list[dict]:
    return list(Conversation.objects.get(public_id=conversation_id).items.order_by("position")
                .values_list("body", flat=True))


class Transport(httpx2.BaseTransport):
    """Real HTTP, except for the requests `fail(request, attempt)` chooses to answer with a 500."""

    def __init__(self, fail):
        self.inner = httpx2.HTTPTransport()
        self.fail = fail
        self.requests: list[httpx2.Request] = []

    def handle_request(self, request):
        self.requests.append(request)
        if self.fail(request, len(self.requests)):
            body = {"error": {"message": "upstream is having a bad day", "type": "server_error", "param": None,
                              "code": None}}
            # retry-after-ms keeps the SDK's backoff short in tests.
            return httpx2.Response(500, json=body, headers={"retry-after-ms": "5"})
        return self.inner.handle_request(request)


@pytest.fixture
def transport(monkeypatch):
    """Route the mirror's SDK client through a Transport; set `.fail` to inject errors."""
    made = Transport(lambda request, attempt: False)

    def make(base_url, api_key, *, max_retries, timeout):
        return OpenAI(base_url=base_url, api_key=api_key, max_retries=max_retries, timeout=timeout,
                      http_client=openai.DefaultHttpxClient(transport=made))

    monkeypatch.setattr(mirror, "make_client", make)
    return made


pytestmark = pytest.mark.django_db


# --- copying ----------------------------------------------------------------------------------------


def test_it_copies_ids_order_metadata_and_every_item_type(upstream, item_examples):
    first = make_upstream(upstream, item_examples["valid_inputs"], metadata={"user_id": "u1", "plan": "pro"})
    second = make_upstream(upstream, make_messages(2))

    out, _ = run_mirror(upstream, first, second)

    assert "2 new, 0 with new items, 0 with new metadata only, 0 up to date, 0 failed; 37 item(s)" in out
    assert f"{first}: copied, 35 item(s)" in out
    with upstream.sdk() as sdk:
        original = sdk.conversations.retrieve(first)
    copy = Conversation.objects.select_related("project").get(public_id=first)
    assert copy.project.name == "copy"
    assert copy.metadata == {"user_id": "u1", "plan": "pro"}
    assert int(copy.created_at.timestamp()) == original.created_at
    assert local_bodies(first) == upstream.raw_items(first)
    assert {body["type"] for body in local_bodies(first)} == set(item_rules.output_models())  # all 29
    assert copy.item_count == copy.next_position == 35
    event = AuditEvent.objects.get(action="conversation.import", conversation_id=first)
    assert event.actor_label == "command:mirror"
    assert event.details["source"] == mirror.source_label(upstream.base_url)
    assert event.details["outcome"] == "created" and event.details["items_added"] == 35


def test_it_follows_the_pages_of_a_long_conversation(upstream, transport):
    conversation_id = make_upstream(upstream, make_messages(230))
    run_mirror(upstream, conversation_id)
    pages = [r for r in transport.requests if r.url.path.endswith("/items")]
    assert len(pages) == 3 and all(r.url.params["order"] == "asc" for r in pages)
    assert [body["content"][0]["text"] for body in local_bodies(conversation_id)] == \
        [f"message {n}" for n in range(230)]


def test_running_again_fetches_only_what_is_new(upstream, transport):
    conversation_id = make_upstream(upstream, make_messages(5))
    run_mirror(upstream, conversation_id)
    last_copied = local_bodies(conversation_id)[-1]["id"]
    with upstream.sdk() as sdk:
        sdk.conversations.items.create(conversation_id, items=make_messages(3, prefix="later"))
    transport.requests.clear()

    out, _ = run_mirror(upstream, conversation_id)

    assert f"{conversation_id}: new items copied, 3 item(s)" in out
    [listing] = [r for r in transport.requests if r.url.path.endswith("/items")]
    assert listing.url.params["after"] == last_copied
    assert local_bodies(conversation_id) == upstream.raw_items(conversation_id)

    transport.requests.clear()
    out, _ = run_mirror(upstream, conversation_id)
    assert f"{conversation_id}: up to date" in out and "0 item(s) copied" in out
    assert [e.details["outcome"] for e in AuditEvent.objects.filter(conversation_id=conversation_id)
            .order_by("pk")] == ["created", "appended"]


def test_new_metadata_upstream_is_copied(upstream):
    conversation_id = make_upstream(upstream, make_messages(1), metadata={"stage": "open"})
    run_mirror(upstream, conversation_id)
    with upstream.sdk() as sdk:
        sdk.conversations.update(conversation_id, metadata={"stage": "closed"})
    out, _ = run_mirror(upstream, conversation_id)
    assert "1 with new metadata only" in out
    assert Conversation.objects.get(public_id=conversation_id).metadata == {"stage": "closed"}


def test_ids_come_from_a_file_too(upstream, tmp_path):
    ids = [make_upstream(upstream, make_messages(1)) for _ in range(3)]
    (tmp_path / "ids.txt").write_text(f"# from the CRM\n{ids[1]}\n\n{ids[2]}  # vip\n{ids[0]}\n")
    out, _ = run_mirror(upstream, ids[0], args=["--ids-file", str(tmp_path / "ids.txt")])
    assert "Mirrored 3 conversation(s)" in out
    assert Conversation.objects.filter(public_id__in=ids).count() == 3


# --- failures -------------------------------------------------------------------------------------------


def test_server_errors_are_retried_with_backoff(upstream, transport):
    conversation_id = make_upstream(upstream, make_messages(3))
    transport.fail = lambda request, attempt: attempt <= 2

    out, _ = run_mirror(upstream, conversation_id, args=["--max-retries", "2"])

    assert "1 new" in out
    retries = [r.headers.get("x-stainless-retry-count") for r in transport.requests]
    assert retries[:3] == ["0", "1", "2"]
    assert len(local_bodies(conversation_id)) == 3


def test_a_failure_after_retries_is_reported_per_conversation_and_nothing_is_half_written(upstream, transport):
    long = make_upstream(upstream, make_messages(150))
    short = make_upstream(upstream, make_messages(2))
    # The second page of the long conversation never comes.
    transport.fail = lambda request, attempt: "after" in request.url.params and long in request.url.path

    summary, err = mirror_failing(upstream, long, short, args=["--max-retries", "1"])

    assert "1 new" in summary and "1 failed" in summary
    assert f"{long}: failed: upstream answered 500: upstream is having a bad day" in err
    assert not Conversation.objects.filter(public_id=long).exists()
    assert len(local_bodies(short)) == 2


def test_new_items_that_fail_to_arrive_leave_the_copy_as_it_was(upstream, transport):
    conversation_id = make_upstream(upstream, make_messages(2))
    run_mirror(upstream, conversation_id)
    with upstream.sdk() as sdk:
        sdk.conversations.items.create(conversation_id, items=make_messages(3, prefix="later"))
        sdk.conversations.update(conversation_id, metadata={"changed": "yes"})
    transport.fail = lambda request, attempt: request.url.path.endswith("/items")

    mirror_failing(upstream, conversation_id, args=["--max-retries", "0"])

    copy = Conversation.objects.get(public_id=conversation_id)
    assert copy.item_count == 2 and copy.metadata == {}


def test_an_unreachable_upstream_is_reported(upstream):
    conversation_id = make_upstream(upstream, make_messages(1))
    dead = Upstream(base_url=f"http://127.0.0.1:{free_port()}/v1", api_key=upstream.api_key)
    summary, err = mirror_failing(dead, conversation_id, args=["--max-retries", "0"])
    assert f"{conversation_id}: failed: could not reach upstream" in err
    assert "1 failed" in summary
    assert not Conversation.objects.exists()


def test_an_unknown_id_is_reported(upstream):
    summary, err = mirror_failing(upstream, "conv_nope")
    assert "conv_nope: failed: not found upstream" in err


def test_a_wrong_key_is_reported(upstream):
    conversation_id = make_upstream(upstream, make_messages(1))
    wrong = Upstream(base_url=upstream.base_url, api_key="cvs_wrong")
    _, err = mirror_failing(wrong, conversation_id)
    assert f"{conversation_id}: failed: upstream answered 401" in err


def test_when_the_last_copied_item_is_gone_upstream_it_says_so_and_recopy_starts_over(upstream):
    """A Convoscope upstream keeps a deleted item's place as a cursor (spec §12), so the new items
    are copied, and the run says the copy holds an item upstream no longer has; --recopy deletes
    the copy here and copies the conversation again, so it matches upstream."""
    conversation_id = make_upstream(upstream, make_messages(3))
    run_mirror(upstream, conversation_id)
    gone = local_bodies(conversation_id)[-1]["id"]
    with upstream.sdk() as sdk:
        sdk.conversations.items.delete(gone, conversation_id=conversation_id)
        sdk.conversations.items.create(conversation_id, items=[{"role": "user", "content": "after the delete"}])

    out, err = run_mirror(upstream, conversation_id)
    assert f"{conversation_id}: note: the last item copied here ('{gone}') is gone upstream" in err
    assert "--recopy" in err
    bodies = local_bodies(conversation_id)
    assert len(bodies) == 4 and bodies[-1]["content"][0]["text"] == "after the delete"

    with upstream.sdk() as sdk:  # the new last item goes too
        sdk.conversations.items.delete(bodies[-1]["id"], conversation_id=conversation_id)
    out, err = run_mirror(upstream, conversation_id, args=["--recopy"])
    assert f"{conversation_id}: copied again from the start, 2 item(s)" in out
    assert "1 copied again from the start (--recopy)" in out
    assert local_bodies(conversation_id) == upstream.raw_items(conversation_id)
    actions = list(AuditEvent.objects.filter(conversation_id=conversation_id).order_by("pk")
                   .values_list("action", flat=True))
    assert actions[-2:] == ["conversation.delete", "conversation.import"]


def test_a_copy_whose_last_item_an_upstream_no_longer_knows_is_reported(upstream, monkeypatch):
    """Servers that refuse a deleted item as `after` (400, param after): say so, copy nothing."""
    conversation_id = make_upstream(upstream, make_messages(3))
    run_mirror(upstream, conversation_id)

    def answer(request):
        if request.url.path.endswith("/items"):
            return httpx2.Response(400, json={"error": {"message": "Invalid 'after'.", "type": "invalid_request_error",
                                                        "param": "after", "code": None}})
        return httpx2.Response(200, json={"id": conversation_id, "object": "conversation",
                                          "created_at": 1700000000, "metadata": {}})

    def make(base_url, api_key, *, max_retries, timeout):
        return OpenAI(base_url=base_url, api_key=api_key, max_retries=0,
                      http_client=openai.DefaultHttpxClient(transport=httpx2.MockTransport(answer)))

    monkeypatch.setattr(mirror, "make_client", make)
    _, err = mirror_failing(upstream, conversation_id)
    assert "is gone upstream; run again with --recopy to delete the copy here and copy the conversation again" in err
    assert len(local_bodies(conversation_id)) == 3


def test_an_upstream_that_answers_404_to_a_deleted_after_is_reported_too(upstream, monkeypatch):
    """ogx answers 404 to `after=<an id it does not know>`: that is the cursor, not the conversation."""
    conversation_id = make_upstream(upstream, make_messages(2))
    run_mirror(upstream, conversation_id)

    def answer(request):
        if "/items" in request.url.path:
            return httpx2.Response(404, json={"detail": "Item not found"})
        return httpx2.Response(200, json={"id": conversation_id, "object": "conversation",
                                          "created_at": 1700000000, "metadata": None})

    monkeypatch.setattr(mirror, "make_client", mocked(answer))
    _, err = mirror_failing(upstream, conversation_id)
    assert "is gone upstream; run again with --recopy" in err and "not found upstream" not in err


def test_items_this_server_cannot_store_fail_the_whole_conversation(upstream, monkeypatch):
    def answer(request):
        if request.url.path.endswith("/items"):
            good = {"type": "message", "id": "msg_1", "role": "user", "status": "completed",
                    "content": [{"type": "input_text", "text": "hi"}]}
            bad = {"type": "hologram", "id": "hg_1"}
            return httpx2.Response(200, json={"object": "list", "data": [good, bad], "first_id": "msg_1",
                                              "last_id": "hg_1", "has_more": False})
        return httpx2.Response(200, json={"id": "conv_future", "object": "conversation", "created_at": 1700000000,
                                          "metadata": {}})

    def make(base_url, api_key, *, max_retries, timeout):
        return OpenAI(base_url=base_url, api_key=api_key, max_retries=0,
                      http_client=openai.DefaultHttpxClient(transport=httpx2.MockTransport(answer)))

    monkeypatch.setattr(mirror, "make_client", make)
    _, err = mirror_failing(upstream, "conv_future")
    assert "conv_future: failed: not copied: Invalid value: 'hologram'" in err and "(items[1].type)" in err
    assert not Conversation.objects.exists()


def mocked(answer):
    def make(base_url, api_key, *, max_retries, timeout):
        return OpenAI(base_url=base_url, api_key=api_key, max_retries=0,
                      http_client=openai.DefaultHttpxClient(transport=httpx2.MockTransport(answer)))
    return make


def upstream_of(items: list[dict], conversation_id: str = "conv_peer"):
    """An upstream (a mock) holding one conversation with `items`, as raw JSON."""
    def answer(request):
        if request.url.path.endswith("/items"):
            return httpx2.Response(200, content=json.dumps(
                {"object": "list", "data": items, "first_id": items[0]["id"], "last_id": items[-1]["id"],
                 "has_more": False}).encode(), headers={"content-type": "application/json"})
        return httpx2.Response(200, json={"id": conversation_id, "object": "conversation", "created_at": 1700000000,
                                          "metadata": None})
    return mocked(answer)


def test_items_are_kept_as_the_upstream_sent_them_numbers_exact_no_fields_added(upstream, monkeypatch):
    items = [
        {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
         "content": [{"type": "output_text", "text": "hi", "annotations": [],
                      "logprobs": [{"token": "hi", "logprob": 1, "bytes": [9007199254740993], "top_logprobs": []}]}]},
        {"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}",
         "status": "in_progress"},
        # null where the SDK's output models allow it (its input types do not)
        {"id": "msg_2", "type": "message", "role": "user", "status": "completed",
         "content": [{"type": "input_file", "file_id": "file_1", "file_data": None, "file_url": None,
                      "filename": "a.pdf"}]},
        {"id": "rs_1", "type": "reasoning", "summary": [], "content": None},  # no status (it is optional)
    ]
    monkeypatch.setattr(mirror, "make_client", upstream_of(items))
    run_mirror(upstream, "conv_peer")
    stored = local_bodies("conv_peer")
    # As JSON text, so 1 and 1.0 differ: 1 stays 1, 2**53 + 1 stays itself (jsonb sorts keys).
    assert json.dumps(stored, sort_keys=True) == json.dumps(items, sort_keys=True)
    assert "status" not in stored[3]


NON_STANDARD = [  # what ogx 1.5.0 returns for these types
    {"id": "msg_ok", "type": "message", "role": "user", "status": "completed",
     "content": [{"type": "input_text", "text": "fine"}]},
    {"id": "item_mcp", "type": "mcp_call", "arguments": "{}", "name": "n", "server_label": "s", "error": "boom",
     "output": None},
    {"id": "item_ws", "type": "web_search_call", "status": "completed", "action": None},
]


def test_items_the_sdk_refuses_are_all_named_and_nothing_is_copied(upstream, monkeypatch):
    monkeypatch.setattr(mirror, "make_client", upstream_of(NON_STANDARD))
    _, err = mirror_failing(upstream, "conv_peer")
    assert "2 of 3 items cannot be stored" in err
    assert "items[1] (item_mcp): Invalid type for 'items[1].error'" in err
    assert "items[2] (item_ws): Invalid type for 'items[2].action'" in err
    assert not Conversation.objects.exists()


def test_lenient_keeps_what_cannot_be_validated_as_it_came_and_marks_it(upstream, monkeypatch, operator_client):
    monkeypatch.setattr(mirror, "make_client", upstream_of(NON_STANDARD))
    out, _ = run_mirror(upstream, "conv_peer", args=["--lenient"])
    assert "conv_peer: copied, 3 item(s) (2 kept unvalidated)" in out
    assert "2 item(s) kept unvalidated (--lenient)" in out
    assert local_bodies("conv_peer") == NON_STANDARD
    marks = dict(Conversation.objects.get(public_id="conv_peer").items.values_list("public_id", "unvalidated"))
    assert marks["msg_ok"] == "" and "items[1].error" in marks["item_mcp"] and "items[2].action" in marks["item_ws"]
    page = operator_client.get("/conversations/conv_peer/").content.decode()
    assert page.count('class="tag unvalidated"') == 2


def test_an_upstream_that_is_down_stops_the_run_after_a_few_connection_failures(upstream, transport):
    dead = Upstream(base_url=f"http://127.0.0.1:{free_port()}/v1", api_key=upstream.api_key)
    ids = [f"conv_{n}" for n in range(10)]
    summary, err = mirror_failing(dead, *ids, args=["--max-retries", "0", "--concurrency", "1"])
    assert "Stopped after 3 connection failures in a row" in summary
    # three failures, plus the one fetch queued ahead (2 x concurrency) if it had already started
    tried = err.count("could not reach upstream")
    assert tried in (3, 4) and len(transport.requests) == tried
    assert f"{10 - tried} conversation(s) not tried" in summary


def test_several_conversations_in_flight_are_each_copied_whole(upstream):
    ids = [make_upstream(upstream, make_messages(n + 1, prefix=f"c{n}")) for n in range(6)]
    run_mirror(upstream, *ids, args=["--concurrency", "3"])
    for conversation_id in ids:
        assert local_bodies(conversation_id) == upstream.raw_items(conversation_id)


def test_conversations_written_together_keep_their_own_outcomes(upstream):
    # Fetched together, written together: each still gets its own outcome, audit event and data.
    grown, renamed, same = (make_upstream(upstream, make_messages(2, prefix=p), metadata={"n": p})
                            for p in ("g", "r", "s"))
    run_mirror(upstream, grown, renamed, same)
    fresh = [make_upstream(upstream, make_messages(3, prefix=f"f{n}")) for n in range(3)]
    with upstream.sdk() as sdk:
        sdk.conversations.items.create(grown, items=make_messages(2, prefix="later"))
        sdk.conversations.update(renamed, metadata={"n": "renamed"})

    summary, err = mirror_failing(upstream, fresh[0], grown, "conv_nowhere", renamed, same, fresh[1], fresh[2],
                                  args=["--concurrency", "4"])

    assert "3 new, 1 with new items, 1 with new metadata only, 1 up to date, 1 failed; 11 item(s)" in summary
    assert "conv_nowhere: failed: not found upstream" in err
    out, _ = run_mirror(upstream, *fresh, grown, renamed, same, args=["--concurrency", "4"])
    assert "0 new, 0 with new items, 0 with new metadata only, 6 up to date, 0 failed" in out
    for conversation_id in (*fresh, grown, renamed, same):
        assert local_bodies(conversation_id) == upstream.raw_items(conversation_id)
    assert Conversation.objects.get(public_id=renamed).metadata == {"n": "renamed"}
    outcomes = {conversation_id: [e.details["outcome"] for e in AuditEvent.objects.filter(
        conversation_id=conversation_id).order_by("pk")] for conversation_id in (*fresh, grown, renamed, same)}
    assert outcomes == {**{f: ["created"] for f in fresh}, grown: ["created", "appended"],
                        renamed: ["created", "updated"], same: ["created"]}

# --- one database: why the upstream is a second server ----------------------------------------------------


def test_an_id_that_lives_in_another_project_here_is_refused_without_asking_upstream(upstream, transport):
    conversation_id = make_upstream(upstream, make_messages(2))
    importing.conversation_import(project=make_project("elsewhere"), actor=services.SYSTEM,
                                 public_id=conversation_id, created_at=timezone.now(), metadata={},
                                 items=[])
    _, err = mirror_failing(upstream, conversation_id)
    assert "already exists here in project 'elsewhere'" in err
    assert transport.requests == []
    assert Conversation.objects.get(public_id=conversation_id).item_count == 0


@pytest.mark.django_db(transaction=True)
def test_mirroring_from_a_server_on_the_same_database_is_refused_or_a_no_op(live_server):
    acme = make_project("acme")
    secret = make_api_key(acme)[1]
    conversation = make_conversation(acme, items=make_messages(2))
    same = Upstream(base_url=live_server.url + "/v1", api_key=secret)

    _, err = mirror_failing(same, conversation.public_id)  # into project "copy"
    assert "already exists here in project 'acme'" in err

    out, _ = run_mirror(same, conversation.public_id, project="acme")
    assert f"{conversation.public_id}: up to date" in out


# --- mistakes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    ([], "Name at least one conversation id"),
    (["conv_1", "--base-url", ""], "Give --base-url"),
    (["conv_1", "--base-url", "ftp://x"], "must be an http"),
    (["conv_1", "--api-key", ""], "Give --api-key"),
    (["conv_1", "--max-retries", "-1"], "--max-retries must be 0 or more"),
    (["conv_1", "--concurrency", "0"], "--concurrency must be 1 to 64"),
    (["conv_1", "--ids-file", "/nonexistent/ids.txt"], "Cannot read"),
    (["conv_1", "--project", " "], "project name"),
])
def test_it_explains_mistakes(args, message):
    base = {"--base-url": "http://127.0.0.1:9/v1", "--api-key": "k", "--project": "copy"}
    for flag in list(base):
        if flag in args:
            base.pop(flag)
    defaults = [part for flag, value in base.items() for part in (flag, value)]
    with pytest.raises(CommandError, match=message):
        call_command("mirror", *args, *defaults, stdout=StringIO(), stderr=StringIO())
