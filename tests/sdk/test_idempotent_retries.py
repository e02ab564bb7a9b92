"""Issue 10: the real SDK with `timeout=1, max_retries=2` against gunicorn (with a scratch database of
its own, SQLite or PostgreSQL like the suite) while every write waits on a lock this test holds, as
a busy SQLite file or a locked row makes it wait.

The client gives up on the first attempt after 1 s and on the second after another; the lock is
released just before the third leaves, which goes out once the first two have been answered (to
nobody: the client stopped listening). gunicorn's access log says what each attempt got.

Without an `Idempotency-Key` every attempt writes: three conversations, the batch appended three
times, a delete that succeeded reported to the SDK as 404. With one (the same key on every
attempt, as `extra_headers` gives it) the write happens once, the attempt that waited on the
first one's lock and the one after it answer with the first response, and the SDK gets it.
"""

import re
import sqlite3
import time
import uuid
from contextlib import contextmanager

import psycopg
import pytest
from openai import NotFoundError

from tests.sdk.helpers import RequestLog, make_client, texts
from tests.serving.served import WAIT_SECONDS, ScratchDatabase, Served

CLIENT_TIMEOUT = 1  # seconds, as in the issue
# One access-log line per answered request: what it was, which attempt, what it got.
ACCESS_FORMAT = ("attempt %(m)s %(U)s retry=%({x-stainless-retry-count}i)s status=%(s)s "
                 "replayed=%({idempotent-replayed}o)s")
ACCESS_LINE = re.compile(r"attempt (\S+) (\S+) retry=(\S+) status=(\d+) replayed=(\S+)")


@pytest.fixture(scope="module")
def database(scratch_database):
    return scratch_database


@pytest.fixture(scope="module")
def server(database):
    server = Served(database, proxy=False, GUNICORN_THREADS="4", GUNICORN_ACCESS_LOG="-",
                    GUNICORN_CMD_ARGS=f"--access-logformat '{ACCESS_FORMAT}'")
    yield server
    server.stop()


class HookedLog(RequestLog):
    """A request log that runs `before_last_attempt` just before the SDK sends its third attempt."""

    before_last_attempt = None

    def record(self, request) -> None:
        super().record(request)
        if self[-1].retry_count == "2" and self.before_last_attempt:
            self.before_last_attempt()


@pytest.fixture
def requests_log() -> HookedLog:
    return HookedLog()


@pytest.fixture
def sdk(server, requests_log):
    with make_client(server.base + "/v1", server.secret, max_retries=2, timeout=CLIENT_TIMEOUT,
                     log=requests_log) as sdk:
        yield sdk


def wait_for(predicate, what: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while not (result := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return result


def postgres(database: ScratchDatabase) -> psycopg.Connection:
    settings = database.postgres
    return psycopg.connect(host=settings.get("HOST") or "127.0.0.1", port=settings.get("PORT") or 5432,
                           user=settings.get("USER") or "postgres", dbname=database.name)


class Attempts:
    """The SDK's attempts at one call (method and path), as gunicorn's access log records their answers."""

    def __init__(self, server: Served, method: str, path: str):
        self.server, self.method, self.path = server, method, path
        self.start = len(server.output())

    def answered(self) -> list[tuple[str, str, str, str]]:
        """(method, retry count, status, Idempotent-Replayed) per answered attempt, by retry count."""
        lines = ACCESS_LINE.findall(self.server.output()[self.start:])
        return sorted((method, retry, status, replayed) for method, path, retry, status, replayed in lines
                      if (method, path) == (self.method, self.path) and retry != "-")

    def wait(self, count: int) -> list[tuple[str, str, str, str]]:
        return wait_for(lambda: len(answered := self.answered()) >= count and answered, f"{count} answers")


@contextmanager
def writes_waiting(server: Served, database: ScratchDatabase, requests_log: HookedLog, method: str, path: str):
    """Every write waits on a lock until the SDK is about to send its third attempt; that attempt goes
    out once the first two are answered. Yields the attempts' answers."""
    attempts = Attempts(server, method, path)
    if database.postgres is None:
        holder = sqlite3.connect(database.url.removeprefix("sqlite:///"), isolation_level=None,
                                 check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")  # the database's one write lock
    else:
        holder = postgres(database)
        # Inserts, updates, deletes and row locks on conversations wait; plain reads go on.
        holder.execute("LOCK TABLE conversations_conversation IN EXCLUSIVE MODE")

    released = []

    def unlock() -> None:
        if not released:
            released.append(True)
            holder.rollback() if database.postgres is not None else holder.execute("ROLLBACK")

    def release() -> None:
        if database.postgres is not None:
            with postgres(database) as side:  # both attempts are waiting in the database, right now
                wait_for(lambda: side.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                              "current_database() AND wait_event_type = 'Lock'").fetchone()[0] >= 2,
                         "two attempts waiting on a lock")
        unlock()
        attempts.wait(2)

    requests_log.before_last_attempt = release
    try:
        yield attempts
    finally:
        unlock()
        holder.close()


def key_headers(keyed: bool) -> dict:
    return {"Idempotency-Key": str(uuid.uuid4())} if keyed else {}


def assert_one_write(answered, method: str) -> None:
    """With a key: the first answered write (whichever got the lock) and two replays of it, the last
    attempt's among them."""
    assert [(m, retry) for m, retry, _, _ in answered] == [(method, "0"), (method, "1"), (method, "2")]
    assert {status for _, _, status, _ in answered} == {"200"}
    assert sorted(replayed for _, _, _, replayed in answered) == ["false", "true", "true"]
    assert answered[2][3] == "true"


@pytest.mark.parametrize("keyed", [False, True], ids=["without a key", "with a key"])
def test_conversations_create_retried_after_a_timeout(server, database, sdk, requests_log, keyed):
    marker = f"create-{uuid.uuid4().hex}"
    with writes_waiting(server, database, requests_log, "POST", "/v1/conversations") as attempts:
        conversation = sdk.conversations.create(metadata={"marker": marker}, extra_headers=key_headers(keyed))
    answered = attempts.wait(3)
    with server.client() as client:
        stored = client.get("/v1/conversations", params={"metadata[marker]": marker}).json()["data"]
    if keyed:
        assert_one_write(answered, "POST")
        assert [c["id"] for c in stored] == [conversation.id]
        assert conversation.metadata == {"marker": marker}
    else:
        # Every attempt the client gave up on still wrote.
        assert [status for _, _, status, _ in answered] == ["200", "200", "200"]
        assert len(stored) == 3
        assert conversation.id in {c["id"] for c in stored}


@pytest.mark.parametrize("keyed", [False, True], ids=["without a key", "with a key"])
def test_items_create_retried_after_a_timeout(server, database, sdk, requests_log, keyed):
    conversation = sdk.conversations.create(items=[{"role": "user", "content": "first"}])
    requests_log.clear()
    batch = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    path = f"/v1/conversations/{conversation.id}/items"
    with writes_waiting(server, database, requests_log, "POST", path) as attempts:
        page = sdk.conversations.items.create(conversation.id, items=batch, extra_headers=key_headers(keyed))
    answered = attempts.wait(3)
    assert texts(page.data) == ["a", "b"]
    stored = list(sdk.conversations.items.list(conversation.id, order="asc", limit=100))
    if keyed:
        assert_one_write(answered, "POST")
        assert texts(stored) == ["first", "a", "b"]
        assert [item.id for item in stored[1:]] == [item.id for item in page.data]
    else:
        assert [status for _, _, status, _ in answered] == ["200", "200", "200"]
        assert texts(stored) == ["first", "a", "b", "a", "b", "a", "b"]


@pytest.mark.parametrize("keyed", [False, True], ids=["without a key", "with a key"])
def test_conversations_delete_retried_after_a_timeout(server, database, sdk, requests_log, keyed):
    conversation = sdk.conversations.create(metadata={"marker": "delete"})
    requests_log.clear()
    with writes_waiting(server, database, requests_log, "DELETE", f"/v1/conversations/{conversation.id}") as attempts:
        if keyed:
            deleted = sdk.conversations.delete(conversation.id, extra_headers=key_headers(keyed))
            assert (deleted.id, deleted.deleted) == (conversation.id, True)
        else:
            # The first attempt to get the lock deleted it; the others found it gone.
            with pytest.raises(NotFoundError):
                sdk.conversations.delete(conversation.id)
    answered = attempts.wait(3)
    if keyed:
        assert_one_write(answered, "DELETE")
    else:
        assert sorted(status for _, _, status, _ in answered) == ["200", "404", "404"]
    with pytest.raises(NotFoundError):
        sdk.conversations.retrieve(conversation.id)
