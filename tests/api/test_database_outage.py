"""PostgreSQL failing under a running production server (gunicorn, gunicorn.conf.py, persistent
health-checked connections), started here as a subprocess against the test database.

- Connections killed with pg_terminate_backend while idle: the next requests reconnect and succeed.
- A connection killed while its request waits in the database: that request answers 503 JSON
  (`x-should-retry: false` for a write), nothing is half-written, and the next requests succeed.
- PostgreSQL gone and back (a TCP proxy in front of it is stopped, then started): 503s while it is
  gone, success once it is back, with no restart.

Only this test database's connections are touched, and only the server's own (by application_name);
the PostgreSQL cluster itself is never stopped.
"""

import socket
import threading
from contextlib import contextmanager
from urllib.parse import quote

import psycopg
import pytest
from django.db import connection

from conversations.models import AuditEvent, Conversation, Item
from tests.factories import make_api_key, make_conversation, make_project
from tests.servers import WAIT_SECONDS, Server, free_port, wait_for

APP_NAME = "convoscope-outage-test"


class TcpProxy:
    """A TCP forwarder in front of PostgreSQL. Stopping it is, for the server, PostgreSQL going away
    (open connections cut, new ones refused); starting it again is PostgreSQL coming back."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream, self.port = upstream, free_port()
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.listener = None

    def start(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.listener.settimeout(0.1)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener) -> None:
        while listener.fileno() != -1:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            with self.lock:
                self.sockets |= {client, upstream}
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    def _pipe(self, source, target) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                self._close(sock)

    def _close(self, sock) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def stop(self) -> None:
        self.listener.close()
        with self.lock:
            cut, self.sockets = self.sockets, set()
        for sock in cut:
            self._close(sock)


# --- the test database, seen from outside Django -----------------------------------------------------


def database_url(host: str, port: int) -> str:
    settings = connection.settings_dict
    credentials = quote(settings["USER"] or "", safe="")
    if settings["PASSWORD"]:
        credentials += ":" + quote(settings["PASSWORD"], safe="")
    return f"postgres://{credentials}@{host}:{port}/{settings['NAME']}?application_name={APP_NAME}"


@contextmanager
def side_connection():
    """A psycopg connection of our own to the test database (not Django's, not the server's)."""
    settings = connection.settings_dict
    with psycopg.connect(dbname=settings["NAME"], user=settings["USER"], password=settings["PASSWORD"] or None,
                         host=settings["HOST"], port=settings["PORT"], autocommit=True) as side:
        yield side


def server_backends(side) -> dict[int, str]:
    """pid -> wait_event_type of the server's connections to this test database."""
    rows = side.execute("SELECT pid, coalesce(wait_event_type, '') FROM pg_stat_activity "
                        "WHERE datname = current_database() AND application_name = %s", [APP_NAME]).fetchall()
    return dict(rows)


def terminate_server_backends(side) -> int:
    """Kill the server's connections, only in this test database, never our own."""
    pids = set(server_backends(side))
    killed = sum(side.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0] for pid in pids)
    # Only the killed ones: the server may already have opened a new connection (a request answering
    # its 503 can reconnect), which is recovery, not a backend that failed to die.
    wait_for(lambda: not pids & set(server_backends(side)), "the killed backends to exit")
    return killed


def state(conversation) -> tuple:
    row = Conversation.objects.get(pk=conversation.pk)
    return (Item.objects.filter(conversation=conversation).count(), row.next_position, row.item_count,
            AuditEvent.objects.filter(conversation_id=conversation.public_id).count())


# --- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture
def committed(transactional_db):
    """Committed rows (the server is another process): a project, its key, a conversation."""
    project = make_project("acme")
    _, secret = make_api_key(project)
    conversation = make_conversation(project, items=[{"role": "user", "content": "first"}])
    return {"key": secret, "conversation": conversation}


@pytest.fixture
def server(committed):
    settings = connection.settings_dict
    server = Server(database_url(settings["HOST"] or "127.0.0.1", settings["PORT"] or 5432))
    yield server
    server.stop()


def assert_503(response, *, write: bool) -> dict:
    assert response.status == 503, response.body
    assert response.headers["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("server_error", "database_unavailable")
    assert response.headers.get("x-should-retry") == ("false" if write else None)
    return error


def items_path(committed) -> str:
    return f"/v1/conversations/{committed['conversation'].public_id}/items"


# --- the tests ----------------------------------------------------------------------------------------


@pytest.mark.postgres_only
def test_idle_connections_killed_under_the_server_are_replaced_on_the_next_request(server, committed):
    key = committed["key"]
    for _ in range(6):  # both threads open their persistent connection
        assert server.call("GET", "/v1/conversations", key=key).status == 200
    with side_connection() as side:
        before = set(server_backends(side))
        assert before
        assert terminate_server_backends(side) == len(before)

        for n in range(6):
            assert server.call("GET", "/v1/conversations", key=key).status == 200
            assert server.call("POST", items_path(committed), {"items": [{"role": "user", "content": f"after {n}"}]},
                               key=key).status == 200
        after = set(server_backends(side))
    assert after and not after & before  # new connections, made by the health check
    assert server.process.poll() is None and server.worker_pids() == server.workers  # never restarted
    assert state(committed["conversation"])[:3] == (7, 7, 7)


def in_background(call):
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("response", call()), daemon=True)
    thread.start()
    return thread, result


@pytest.mark.postgres_only
def test_a_write_whose_connection_is_killed_in_flight_is_a_503_and_writes_nothing(server, committed):
    key, conversation = committed["key"], committed["conversation"]
    before = state(conversation)
    with side_connection() as side, side_connection() as locker:
        with locker.transaction():
            # Hold the conversation's row lock: the append waits for it inside its transaction.
            locker.execute("SELECT 1 FROM conversations_conversation WHERE id = %s FOR UPDATE", [conversation.pk])
            thread, result = in_background(lambda: server.call(
                "POST", items_path(committed), {"items": [{"role": "user", "content": "x"}, {"role": "user",
                                                                                       "content": "y"}]}, key=key))
            wait_for(lambda: "Lock" in server_backends(side).values(), "the append to wait on the row lock")
            terminate_server_backends(side)
            thread.join(WAIT_SECONDS)
    error = assert_503(result["response"], write=True)
    assert "may or may not have been applied" in error["message"]
    assert state(conversation) == before

    # Recovered on its own: the same worker reconnects for the next requests.
    for n in range(4):
        response = server.call("POST", items_path(committed), {"items": [{"role": "user", "content": f"again {n}"}]},
                               key=key)
        assert response.status == 200, response.body
    listed = server.call("GET", items_path(committed) + "?order=asc", key=key).json()
    assert [item["content"][0]["text"] for item in listed["data"]] == ["first", "again 0", "again 1", "again 2",
                                                                      "again 3"]
    assert server.worker_pids() == server.workers


@pytest.mark.postgres_only
def test_a_read_whose_connection_is_killed_in_flight_is_a_503_the_sdk_may_retry(server, committed):
    key = committed["key"]
    with side_connection() as side, side_connection() as locker:
        with locker.transaction():
            locker.execute(f"LOCK TABLE {Item._meta.db_table} IN ACCESS EXCLUSIVE MODE")
            thread, result = in_background(lambda: server.call("GET", items_path(committed), key=key))
            wait_for(lambda: "Lock" in server_backends(side).values(), "the read to wait on the table lock")
            terminate_server_backends(side)
            thread.join(WAIT_SECONDS)
    assert_503(result["response"], write=False)
    assert server.call("GET", items_path(committed), key=key).status == 200


@pytest.mark.postgres_only
def test_postgresql_gone_and_back_gives_503s_then_recovers_without_a_restart(committed):
    settings = connection.settings_dict
    proxy = TcpProxy((settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432)))
    proxy.start()
    server = Server(database_url("127.0.0.1", proxy.port))
    try:
        key = committed["key"]
        for _ in range(4):
            assert server.call("GET", "/v1/conversations", key=key).status == 200
        before = state(committed["conversation"])

        proxy.stop()  # PostgreSQL goes away: open connections cut, new ones refused
        for _ in range(3):
            assert_503(server.call("GET", "/v1/conversations", key=key), write=False)
            assert_503(server.call("POST", items_path(committed), {"items": [{"role": "user", "content": "lost"}]},
                                   key=key), write=True)
        console = server.call("GET", "/", headers={"Cookie": "sessionid=abcdefghijklmnopqrstuvwxyz012345"})
        assert console.status == 503 and b"Database unavailable" in console.body
        assert state(committed["conversation"]) == before

        proxy.start()  # PostgreSQL is back
        for n in range(4):
            assert server.call("GET", "/v1/conversations", key=key).status == 200
            response = server.call("POST", items_path(committed), {"items": [{"role": "user", "content": f"back {n}"}]},
                                   key=key)
            assert response.status == 200, response.body
        assert server.worker_pids() == server.workers  # the same processes: nothing was restarted
    finally:
        server.stop()
        proxy.stop()


def test_with_the_database_unreachable_every_answer_is_a_clear_503():
    """No PostgreSQL listens on port 1: the API answers JSON 503s, the console a 503 page."""
    server = Server(f"postgres://postgres@127.0.0.1:1/nowhere?application_name={APP_NAME}&connect_timeout=5")
    try:
        assert_503(server.call("GET", "/v1/conversations", key="cvs_anything"), write=False)
        assert_503(server.call("POST", "/v1/conversations", {}, key="cvs_anything"), write=True)
        assert_503(server.call("DELETE", "/v1/conversations/conv_1", key="cvs_anything"), write=True)
        console = server.call("GET", "/", headers={"Cookie": "sessionid=abcdefghijklmnopqrstuvwxyz012345"})
        assert console.status == 503
        assert b"<h1>Database unavailable</h1>" in console.body
        assert "default-src 'self'" in console.headers["Content-Security-Policy"]
        assert server.call("GET", "/accounts/login/").status == 200  # what needs no database still works
    finally:
        server.stop()
