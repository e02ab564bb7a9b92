"""A production-style Convoscope (gunicorn, gunicorn.conf.py) started as a subprocess, for the tests
that need real server processes: the database outage tests and the rate limit shared by servers."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import typing
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WAIT_SECONDS = 60  # generous: only a stuck run waits this long, and CI machines can be busy


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, what: str, log: Path, timeout: float = WAIT_SECONDS) -> None:
    """Until something accepts connections on `port`; fails when `process` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start; see {log}") from None
            time.sleep(0.1)


def wait_for(predicate, what: str, timeout: float = WAIT_SECONDS):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Response:
    def __init__(self, status: int, headers, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


class Subprocess:
    """A server process writing to a log file of its own; stopped gracefully, then killed."""

    process: subprocess.Popen
    log: typing.IO

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        os.unlink(self.log.name)


class Server(Subprocess):
    """gunicorn serving Convoscope on a free port, as `make serve` does (by default one worker, two
    threads). `env` adds settings (CONVOSCOPE_*, REDIS_URL, ...) to a clean environment."""

    def __init__(self, database_url: str, *, workers: int = 1, threads: int = 2, env: dict | None = None):
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="convoscope-outage-", suffix=".log", delete=False)
        clean = {k: v for k, v in os.environ.items()
                 if not k.startswith(("DJANGO_", "GUNICORN_", "WEB_CONCURRENCY", "CONVOSCOPE_", "REDIS_URL"))}
        clean.update(DATABASE_URL=database_url, CONVOSCOPE_BIND=f"127.0.0.1:{self.port}",
                     WEB_CONCURRENCY=str(workers), GUNICORN_THREADS=str(threads), DJANGO_DEBUG="0",
                     DJANGO_SECURE="0", **(env or {}))
        self.process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
                                         "convoscope.wsgi"], cwd=ROOT, env=clean, stdout=self.log, stderr=self.log)
        wait_for(self._answers, "gunicorn to start")
        self.workers = self.worker_pids()

    def _answers(self) -> bool:
        assert self.process.poll() is None, "gunicorn exited:\n" + self.output()
        try:
            self.call("GET", "/v1/conversations")
        except OSError:
            return False
        return True

    def call(self, method: str, path: str, body=None, *, key: str = "none", headers=None) -> Response:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                         headers={"Authorization": f"Bearer {key}",
                                                  "Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=WAIT_SECONDS) as response:
                return Response(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, error.headers, error.read())

    def worker_pids(self) -> set[int]:
        """The gunicorn worker processes (children of the master): a restart would change them."""
        children = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                children.add(int(stat.parent.name))
        return children

