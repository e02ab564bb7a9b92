"""`make serve` as a subprocess (`python -m convoscope.serve`: nginx in front of gunicorn), its own
scratch database, and the abusive clients of the slow-client test.

Run directly to measure a serving stack without asserting anything (the issue's before/after):

    .venv/bin/python -m tests.serving.served --proxy off --seconds 60   # gunicorn alone
    .venv/bin/python -m tests.serving.served --proxy on --seconds 60    # make serve
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

import httpx2 as httpx

from tests.servers import ROOT, WAIT_SECONDS, Subprocess, free_port


def clean_environment(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DJANGO_", "GUNICORN_", "WEB_CONCURRENCY", "CONVOSCOPE_", "REDIS_URL"))}
    env.update(DJANGO_DEBUG="0", DJANGO_SECURE="0", DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
               DJANGO_SECRET_KEY="served-test-" + "k" * 50, CONVOSCOPE_API_RATE_LIMIT="off")
    env.update(overrides)
    return env


class ScratchDatabase:
    """A database of its own for the served process, migrated once: a SQLite file, or a PostgreSQL
    database beside the test database when the suite runs on PostgreSQL."""

    def __init__(self, postgres_settings: dict | None):
        self.postgres = postgres_settings
        self.tmp = tempfile.TemporaryDirectory(prefix="convoscope-served-")
        if postgres_settings is None:
            self.url = f"sqlite:///{self.tmp.name}/served.sqlite3"
        else:
            self.name = f"{postgres_settings['NAME']}_served"
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)', f'CREATE DATABASE "{self.name}"')
            host = postgres_settings.get("HOST") or "127.0.0.1"
            port = postgres_settings.get("PORT") or 5432
            user = postgres_settings.get("USER") or "postgres"
            self.url = f"postgres://{user}@{host}:{port}/{self.name}"
        self.manage("migrate", "--noinput", "-v0")
        self.secret = self.manage("create_api_key", "--project", "served").strip().splitlines()[-1]

    def _admin(self, *statements: str) -> None:
        import psycopg

        settings = self.postgres
        with psycopg.connect(host=settings.get("HOST") or "127.0.0.1", port=settings.get("PORT") or 5432,
                             user=settings.get("USER") or "postgres", dbname="postgres", autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def manage(self, *args: str) -> str:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, check=True, capture_output=True,
                              text=True, env=clean_environment(DATABASE_URL=self.url)).stdout

    def drop(self) -> None:
        if self.postgres is not None:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.tmp.cleanup()


class Served(Subprocess):
    """`python -m convoscope.serve` on a free port (proxy on: nginx + gunicorn; off: gunicorn alone)."""

    def __init__(self, database: ScratchDatabase, *, proxy: bool = True, **settings: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.secret = database.secret
        self.log = tempfile.NamedTemporaryFile(prefix="convoscope-served-", suffix=".log", delete=False)
        env = clean_environment(DATABASE_URL=database.url, CONVOSCOPE_BIND=f"127.0.0.1:{self.port}",
                                CONVOSCOPE_PROXY="on" if proxy else "off", **settings)
        self.process = subprocess.Popen([sys.executable, "-m", "convoscope.serve"], cwd=ROOT, env=env,
                                        stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + WAIT_SECONDS
        while not self._answers():
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError("the server did not start:\n" + self.output())
            time.sleep(0.1)

    def _answers(self) -> bool:
        assert self.process.poll() is None, "the server exited:\n" + self.output()
        try:
            httpx.get(self.base + "/v1/models", timeout=2)
        except httpx.HTTPError:
            return False
        return True

    def client(self, timeout: float = WAIT_SECONDS, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {self.secret}"},
                            timeout=timeout, **kwargs)

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=WAIT_SECONDS)

    def raw_request(self, head: str, body: bytes = b"") -> bytes:
        """Bytes as a client sends them (nothing fixed up), the response as the server sends it."""
        with self.connect() as conn:
            conn.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
            return read_response(conn)

    def stored(self, marker: str) -> int:
        """How many conversations carry metadata {"marker": marker} (written by this test run)."""
        with self.client() as client:
            response = client.get("/v1/conversations", params={"metadata[marker]": marker, "limit": 100})
            response.raise_for_status()
            return len(response.json()["data"])



def read_response(conn: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = conn.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        chunks.append(chunk)
        data = b"".join(chunks)
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep and b"content-length:" in head.lower():
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            if len(body) >= length:
                break
    return b"".join(chunks)


def head_for(path: str, secret: str, *, content_length: int | None = None, extra: str = "") -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {secret}",
             "Content-Type: application/json"]
    if content_length is not None:
        lines.append(f"Content-Length: {content_length}")
    return "\n".join(lines) + "\n" + extra


# -- the slow clients -------------------------------------------------------------------------------

KINDS = ("idle", "slow_headers", "slow_body", "truncated_body")


@dataclass
class Figures:
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    abusive_connections: dict[str, int] = field(default_factory=dict)

    def p(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else float("inf")

    def summary(self) -> str:
        return (f"{len(self.latencies)} normal requests answered, {len(self.failures)} failed; "
                f"p50 {self.p(0.50) * 1000:.0f} ms, p99 {self.p(0.99) * 1000:.0f} ms, "
                f"max {max(self.latencies, default=0) * 1000:.0f} ms; abusive connections opened: "
                f"{self.abusive_connections}")


def abuse(served: Served, kind: str, stop: threading.Event, opened: dict, lock: threading.Lock,
          marker: str, trickle: float = 5.0) -> None:
    """One abusive client: connect and misbehave in its way; when the server drops it, do it again."""
    body = json.dumps({"metadata": {"marker": marker}}).encode()
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", served.port), timeout=5) as conn:
                with lock:
                    opened[kind] = opened.get(kind, 0) + 1
                if kind == "slow_headers":
                    conn.sendall(b"POST /v1/conversations HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                elif kind == "slow_body":
                    conn.sendall(head_for("/v1/conversations", served.secret, content_length=len(body) + 10_000)
                                 .replace("\n", "\r\n").encode() + b"\r\n")
                elif kind == "truncated_body":
                    conn.sendall(head_for("/v1/conversations", served.secret, content_length=len(body) + 1000)
                                 .replace("\n", "\r\n").encode() + b"\r\n" + body)
                conn.settimeout(trickle)
                while not stop.is_set():
                    try:
                        if conn.recv(4096) == b"":
                            break  # the server hung up: connect again
                    except TimeoutError:
                        if kind == "slow_headers":
                            conn.sendall(b"X-Trickle: 1\r\n")
                        elif kind == "slow_body":
                            conn.sendall(b" ")
        except OSError:
            time.sleep(0.05)


def slow_client_attack(served: Served, *, seconds: float, connections: int = 200, normal_threads: int = 4,
                       marker: str = "slow-client") -> Figures:
    """`connections` abusive connections (an equal share of each kind) held open for `seconds`,
    while `normal_threads` well-behaved clients retrieve and create conversations."""
    with served.client() as client:
        conversation_id = client.post("/v1/conversations", json={"metadata": {"marker": "normal"}}).json()["id"]
    figures = Figures()
    stop = threading.Event()
    lock = threading.Lock()
    attackers = [threading.Thread(target=abuse, args=(served, KINDS[i % len(KINDS)], stop,
                                                       figures.abusive_connections, lock, marker), daemon=True)
                 for i in range(connections)]
    for thread in attackers:
        thread.start()
    time.sleep(2)  # let them all connect

    def normal() -> None:
        with served.client(timeout=10) as client:
            n = 0
            while not stop.is_set():
                n += 1
                started = time.perf_counter()
                try:
                    if n % 5 == 0:
                        response = client.post("/v1/conversations", json={"metadata": {"marker": "normal"}})
                    else:
                        response = client.get(f"/v1/conversations/{conversation_id}")
                    ok = response.status_code == 200
                    outcome = f"{response.status_code}"
                except httpx.HTTPError as error:
                    ok, outcome = False, type(error).__name__
                elapsed = time.perf_counter() - started
                with lock:
                    (figures.latencies.append(elapsed) if ok else figures.failures.append(outcome))
                time.sleep(0.02)

    normals = [threading.Thread(target=normal, daemon=True) for _ in range(normal_threads)]
    for thread in normals:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in normals + attackers:
        thread.join(timeout=WAIT_SECONDS)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description="slow clients against a served Convoscope")
    parser.add_argument("--proxy", choices=["on", "off"], default="on")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--connections", type=int, default=200)
    args = parser.parse_args()
    database = ScratchDatabase(None)
    served = Served(database, proxy=args.proxy == "on")
    try:
        figures = slow_client_attack(served, seconds=args.seconds, connections=args.connections)
        print(f"proxy {args.proxy}: {figures.summary()}")
        print(f"conversations stored from truncated bodies: {served.stored('slow-client')}")
    finally:
        served.stop()
        database.drop()


if __name__ == "__main__":
    main()
