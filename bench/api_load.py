"""API and console load against `make serve` (nginx + gunicorn) and the seeded database.

    .venv/bin/python bench/api_load.py --database-url postgres://postgres@127.0.0.1:5432/convoscope_bench

Starts `python -m convoscope.serve` (or gunicorn alone: --proxy off) on a spare port, makes an
API key and a console login, then for each endpoint sends --requests requests from --concurrency client threads (closed
loop) and reports throughput and p50/p95/p99 latency seen by the client. The client runs on
the same machine as the server and the database: the figures include that contention.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2 as httpx  # the HTTP client the openai SDK itself uses

from common import ROOT, endpoints, load_samples, make_credentials, setup_django, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--project", default="seed")
    parser.add_argument("--requests", type=int, default=400, help="measured requests per endpoint")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--proxy", choices=["on", "off"], default="on",
                        help="on: make serve (nginx + gunicorn); off: gunicorn alone")
    parser.add_argument("--only", action="append", help="endpoint name(s) to run (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "api.json")
    args = parser.parse_args()

    setup_django(args.database_url)
    samples = load_samples(args.project)
    credentials = make_credentials(samples)

    base = f"http://127.0.0.1:{args.port}"
    env = {**os.environ, "DATABASE_URL": args.database_url, "CONVOSCOPE_BIND": f"127.0.0.1:{args.port}",
           "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
           # plain http on loopback: cookies must not be Secure-only or the console login fails
           "DJANGO_SECURE": "0"}
    # `make serve`'s stack (nginx in front of gunicorn), or gunicorn alone with --proxy off
    env["CONVOSCOPE_PROXY"] = args.proxy
    server = subprocess.Popen([sys.executable, "-m", "convoscope.serve"], cwd=ROOT, env=env,
                              stderr=subprocess.DEVNULL)
    try:
        wait_for(base)
        cookies = console_login(base, credentials.username, credentials.password)
        rng = random.Random(11)
        results = {}
        for name, make in endpoints(samples, rng).items():
            if args.only and name not in args.only:
                continue
            results[name] = run(base, make, credentials.api_key, cookies, args)
            row = results[name]
            print(f"{name:32} {row['throughput_rps']:8.1f} req/s  p50 {row['p50_ms']:7.2f}  "
                  f"p95 {row['p95_ms']:7.2f}  p99 {row['p99_ms']:7.2f} ms", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=20)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"database_url": args.database_url.rsplit("@", 1)[-1],
                                    "concurrency": args.concurrency, "proxy": args.proxy,
                                    "endpoints": results}, indent=2))
    print(f"written to {args.out}")


def wait_for(base: str) -> None:
    for _ in range(100):
        try:
            httpx.get(base + "/accounts/login/", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def console_login(base: str, username: str, password: str) -> httpx.Cookies:
    with httpx.Client(base_url=base) as client:
        client.get("/accounts/login/")
        token = client.cookies["csrftoken"]
        response = client.post("/accounts/login/", data={"username": username, "password": password,
                                                          "csrfmiddlewaretoken": token})
        if "sessionid" not in client.cookies:
            raise SystemExit(f"console login failed: {response.status_code}")
        return client.cookies


def run(base, make, secret, cookies, args) -> dict:
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    todo = {"left": args.warmup + args.requests}

    def worker() -> None:
        with httpx.Client(base_url=base, cookies=cookies, timeout=30,
                          headers={"Authorization": f"Bearer {secret}"}) as client:
            while True:
                with lock:
                    if todo["left"] <= 0:
                        return
                    todo["left"] -= 1
                    warm = todo["left"] >= args.requests
                    request = make()
                started = time.perf_counter()
                response = client.request(request.method, request.path, json=request.body)
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    if response.status_code != 200:
                        errors.append(f"{response.status_code} {request.path}")
                    elif not warm:
                        latencies.append(elapsed)

    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    row = summary(latencies, wall * args.requests / (args.requests + args.warmup))
    row["errors"] = len(errors)
    if errors:
        row["first_error"] = errors[0]
    return row


if __name__ == "__main__":
    main()
