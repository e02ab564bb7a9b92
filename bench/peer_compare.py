"""Convoscope against ogx 1.5.0, side by side, on the workload of ../shared/bench/peer.md.

    .venv/bin/python bench/peer_compare.py --ogx /work/ogx-perf/venv/bin/ogx

Starts both servers on their embedded SQLite, each on a scratch database in a temporary
directory: Convoscope as in production (`python -m convoscope.serve`: nginx in front of
gunicorn, rate limit off) with a fresh project and API key, ogx with `ogx run` (conversations
only, no auth). Then runs five operations one after another, each against Convoscope and then
ogx (the order alternates between rounds with --rounds 2), from one asyncio client with
--concurrency tasks (closed loop, one httpx connection per task):

1. create a conversation with metadata {"user_id": "u<i%50>"} and one user message;
2. retrieve a created conversation (round robin);
3. append 10 user messages of 200 characters each;
4. list 20 items;
5. update the metadata to {"k": "<i>"}.

Prints requests/s, p50 and p95 for both servers and the ratio of throughputs (Convoscope/ogx).
Client and servers share the machine: compare figures within one run. To measure a change, serve
the tree before it beside this one in the same run (each server gets the same requests in turn):

    git archive HEAD~1 | tar -x -C /tmp/before
    .venv/bin/python bench/peer_compare.py --also before=/tmp/before
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx  # the HTTP client the openai SDK itself uses

from common import ROOT, percentile

OPERATIONS = ["create", "retrieve", "append 10", "list 20", "update"]
TEXT_200 = ("The quick brown fox jumps over the lazy dog. " * 5)[:200]


class Target:
    """One server under test: where it listens, how to authenticate, its conversations."""

    def __init__(self, name: str, base: str, headers: dict[str, str]):
        self.name = name
        self.base = base
        self.headers = headers
        self.conversation_ids: list[str] = []


def request_for(op: str, target: Target, i: int) -> tuple[str, str, dict | None]:
    if op == "create":
        return "POST", "/v1/conversations", {
            "metadata": {"user_id": f"u{i % 50}"},
            "items": [{"type": "message", "role": "user", "content": "hello there"}],
        }
    conversation = target.conversation_ids[i % len(target.conversation_ids)]
    if op == "retrieve":
        return "GET", f"/v1/conversations/{conversation}", None
    if op == "append 10":
        message = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": TEXT_200}]}
        return "POST", f"/v1/conversations/{conversation}/items", {"items": [message] * 10}
    if op == "list 20":
        return "GET", f"/v1/conversations/{conversation}/items?limit=20", None
    if op == "update":
        return "POST", f"/v1/conversations/{conversation}", {"metadata": {"k": str(i)}}
    raise ValueError(op)


async def run(target: Target, op: str, *, requests: int, warmup: int, concurrency: int) -> dict:
    """`warmup` + `requests` requests from `concurrency` tasks; latencies of the measured ones."""
    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(warmup + requests))
    measured_from: list[float] = []

    async def worker(client: httpx.AsyncClient) -> None:
        for i in counter:
            method, path, body = request_for(op, target, i)
            started = time.perf_counter()
            response = await client.request(method, path, json=body)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                errors.append(f"{response.status_code} {method} {path}: {response.text[:200]}")
                continue
            if op == "create":
                target.conversation_ids.append(response.json()["id"])
            if i == warmup:
                measured_from.append(started)
            if i >= warmup:
                latencies.append(elapsed)

    clients = [httpx.AsyncClient(base_url=target.base, headers=target.headers, timeout=60)
               for _ in range(concurrency)]
    try:
        await asyncio.gather(*(worker(client) for client in clients))
        ended = time.perf_counter()
    finally:
        for client in clients:
            await client.aclose()
    if errors:
        raise SystemExit(f"{target.name} {op}: {len(errors)} errors, first: {errors[0]}")
    wall = ended - measured_from[0]
    return {"requests": len(latencies), "throughput_rps": round(len(latencies) / wall, 1),
            "p50_ms": round(percentile(latencies, 0.50), 2), "p95_ms": round(percentile(latencies, 0.95), 2)}


def wait_until(check, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what} did not start within {seconds:.0f} s")


def start_convoscope(work: Path, port: int, name: str = "convoscope", root: Path = ROOT
                     ) -> tuple[subprocess.Popen, Target]:
    """A scratch SQLite database, migrated, with a project and an API key; then `make serve`'s stack.
    `root`: the source tree to serve (another one, e.g. `git archive` of an earlier commit, to
    measure a change within one run)."""
    database_url = f"sqlite:///{work / (name + '.sqlite3')}"
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "convoscope.settings",
           "CONVOSCOPE_API_RATE_LIMIT": "off", "CONVOSCOPE_BIND": f"127.0.0.1:{port}",
           "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost", "DJANGO_SECURE": "0"}
    env.pop("REDIS_URL", None)  # embedded defaults only, like ogx
    env["PYTHONPATH"] = str(root)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=root, env=env, check=True)
    secret = subprocess.run(
        [sys.executable, "-c",
         "import django; django.setup()\n"
         "from conversations import services\nfrom conversations.models import Project\n"
         "project = Project.objects.create(name='peer-bench')\n"
         "print(services.apikey_create(project=project, actor=services.SYSTEM, name='bench')[1])"],
        cwd=root, env=env, check=True, capture_output=True, text=True).stdout.strip()
    server = subprocess.Popen([sys.executable, "-m", "convoscope.serve"], cwd=root, env=env,
                              stdout=subprocess.DEVNULL, stderr=open(work / f"{name}.log", "w"))
    target = Target(name, f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {secret}"})
    wait_until(lambda: httpx.get(target.base + "/v1/conversations/conv_none", headers=target.headers,
                                 timeout=2).status_code == 404, "convoscope")
    return server, target


def start_ogx(ogx: str, work: Path, port: int) -> tuple[subprocess.Popen, Target]:
    run_dir = work / "ogx"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(
        "distro_name: conversations-only\nproviders: {}\nserver:\n  host: 127.0.0.1\n")
    server = subprocess.Popen([ogx, "run", "config.yaml", "--port", str(port), "--insecure"], cwd=run_dir,
                              env={**os.environ, "SQLITE_STORE_DIR": str(run_dir)},
                              stdout=subprocess.DEVNULL, stderr=open(work / "ogx.log", "w"))
    target = Target("ogx", f"http://127.0.0.1:{port}", {"Authorization": "Bearer unused"})
    wait_until(lambda: httpx.post(target.base + "/v1/conversations", json={},
                                  timeout=2).status_code == 200, "ogx")
    return server, target


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


def table(results: list[dict], names: list[str]) -> str:
    """One row per operation (and round): each server's req/s, p50, p95; each Convoscope's ratio to ogx."""
    ours = names[:-1]
    head = "| operation | " + " | ".join(f"{n} req/s | p50 ms | p95 ms" for n in names) + " | " + \
        " | ".join(f"{n}/ogx" for n in ours) + " |"
    lines = [head, "|---|" + "---:|" * (3 * len(names) + len(ours))]
    for op in OPERATIONS:
        for r, round_results in enumerate(results):
            rows = round_results[op]
            label = op if len(results) == 1 else f"{op} (round {r + 1})"
            cells = [f"{rows[n]['throughput_rps']} | {rows[n]['p50_ms']} | {rows[n]['p95_ms']}" for n in names]
            ratios = [f"{rows[n]['throughput_rps'] / rows['ogx']['throughput_rps']:.2f}×" for n in ours]
            lines.append(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    return "\n".join(lines)


async def main_async(args, targets: list[Target]) -> list[dict]:
    results = []
    for r in range(args.rounds):
        order = targets if r % 2 == 0 else targets[::-1]
        round_results: dict = {}
        for op in OPERATIONS:
            round_results[op] = {}
            for target in order:
                row = await run(target, op, requests=args.requests, warmup=args.warmup,
                                concurrency=args.concurrency)
                round_results[op][target.name] = row
                print(f"round {r + 1} {op:10} {target.name:12} {row['throughput_rps']:8.1f} req/s  "
                      f"p50 {row['p50_ms']:7.2f}  p95 {row['p95_ms']:7.2f} ms", flush=True)
        results.append(round_results)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ogx", default=shutil.which("ogx") or "/work/ogx-perf/venv/bin/ogx",
                        help="the ogx executable (ogx 1.5.0, see ../shared/bench/peer.md)")
    parser.add_argument("--requests", type=int, default=300, help="measured requests per operation")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1, help="2: a second round with the order reversed")
    parser.add_argument("--also", action="append", default=[], metavar="NAME=DIR",
                        help="another Convoscope source tree to serve beside this one (same venv), "
                             "e.g. `git archive` of the commit before a change")
    parser.add_argument("--port", type=int, default=8781, help="the first server's; the others take the next ones")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "peer.json")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="peer-bench-"))
    servers = []
    try:
        targets = []
        variants = [("convoscope", ROOT)] + [(v.split("=", 1)[0], Path(v.split("=", 1)[1]).resolve())
                                             for v in args.also]
        for offset, (name, root) in enumerate(variants):
            server, target = start_convoscope(work, args.port + offset, name, root)
            servers.append(server)
            targets.append(target)
        server, target = start_ogx(args.ogx, work, args.port + len(variants))
        servers.append(server)
        targets.append(target)
        results = asyncio.run(main_async(args, targets))
    finally:
        for server in servers:
            stop(server)
    print()
    print(table(results, [t.name for t in targets]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"concurrency": args.concurrency, "requests": args.requests,
                                    "rounds": results}, indent=2))
    print(f"\nwritten to {args.out}; server logs in {work}")


if __name__ == "__main__":
    main()
