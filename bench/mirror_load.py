"""Mirror throughput from a local Convoscope upstream (items copied per second).

Seeds an upstream Convoscope (its own SQLite database, served by gunicorn with
gunicorn.conf.py, rate limit off), then runs `manage.py mirror` of every upstream conversation
into a second, empty SQLite database and reports items/s. Extra arguments go to the mirror
command (e.g. `--concurrency 1`). `--against DIR` runs DIR's mirror (another checkout, e.g.
`git archive HEAD~1 | tar -x -C DIR`) in turn with this one against the same upstream, a fresh
database each run, and prints the ratio: on a shared machine only such ratios mean much.

    .venv/bin/python bench/mirror_load.py --conversations 200 --items 25 [-- --concurrency 8]
"""

import argparse
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--items", type=int, default=25, help="items per conversation")
    parser.add_argument("--upstream-workers", type=int, default=2, help="gunicorn worker processes upstream")
    parser.add_argument("--upstream-threads", type=int, default=8, help="threads per upstream worker")
    parser.add_argument("--against", metavar="DIR", type=Path, help="another checkout whose mirror runs in turn")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each mirror (default: 1)")
    parser.add_argument("--profile", metavar="FILE", help="run the mirror under cProfile, its stats into FILE")
    parser.add_argument("mirror_args", nargs="*", help="more arguments for manage.py mirror (after --)")
    args = parser.parse_args()
    manage = [sys.executable, str(REPO / "manage.py")]
    with tempfile.TemporaryDirectory() as home:
        base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        base |= {"DJANGO_DEBUG": "0", "DJANGO_SECURE": "0", "CONVOSCOPE_API_RATE_LIMIT": "off"}
        up = {**base, "DATABASE_URL": f"sqlite:///{home}/upstream.sqlite3",
              "WEB_CONCURRENCY": str(args.upstream_workers), "GUNICORN_THREADS": str(args.upstream_threads)}
        empty = {**base, "DATABASE_URL": f"sqlite:///{home}/empty.sqlite3"}
        for env in (up, empty):
            subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, cwd=REPO, check=True)
        subprocess.run([*manage, "seed", "--conversations", str(args.conversations), "--items-per-conversation",
                        str(args.items), "--project", "up", "--no-progress"], env=up, cwd=REPO, check=True,
                       stdout=subprocess.DEVNULL)
        key = subprocess.run([*manage, "create_api_key", "--project", "up"], env=up, cwd=REPO, check=True,
                             capture_output=True, text=True).stdout.splitlines()[-1]
        with sqlite3.connect(f"{home}/upstream.sqlite3") as db:
            ids = [row[0] for row in db.execute("select public_id from conversations_conversation")]
        Path(home, "ids.txt").write_text("\n".join(ids))
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(REPO / "gunicorn.conf.py"),
                                   "--bind", f"127.0.0.1:{port}", "convoscope.wsgi"], env=up, cwd=REPO,
                                  stderr=subprocess.DEVNULL)
        total = len(ids) * args.items
        variants = {"this": REPO} | ({"against": args.against.resolve()} if args.against else {})
        figures: dict[str, list[float]] = {name: [] for name in variants}
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            for run in range(args.rounds):
                for name, checkout in variants.items():
                    shutil.copy(f"{home}/empty.sqlite3", f"{home}/copy.sqlite3")
                    down = {**base, "DATABASE_URL": f"sqlite:///{home}/copy.sqlite3"}
                    profile = ["-m", "cProfile", "-o", args.profile] if args.profile and name == "this" else []
                    started = time.perf_counter()
                    result = subprocess.run([sys.executable, *profile, str(checkout / "manage.py"), "mirror",
                                             "--ids-file", f"{home}/ids.txt", "--base-url",
                                             f"http://127.0.0.1:{port}/v1", "--api-key", key, "--project", "copy",
                                             "--no-progress", *args.mirror_args],
                                            capture_output=True, text=True, env=down, cwd=checkout)
                    elapsed = time.perf_counter() - started
                    summary = (result.stdout or result.stderr).strip().splitlines()[-1]
                    own = re.search(r"\(([\d,]+) items/s\)", summary)
                    figures[name].append(float(own.group(1).replace(",", "")) if own else 0.0)
                    print(f"{name} run {run + 1}: {total} items in {elapsed:.1f} s (including start-up): "
                          f"{total / elapsed:,.0f} items/s; exit status {result.returncode}")
                    print(f"  {summary}")  # the command's own items/s
        finally:
            server.terminate()
            server.wait(timeout=30)
        for name, values in figures.items():
            print(f"{name}: median {statistics.median(values):,.0f} items/s (the command's own) over {len(values)}")
        if args.against:
            ratios = [a / b for a, b in zip(figures["this"], figures["against"], strict=True) if b]
            print(f"this / against: {statistics.median(ratios):.2f} (median of {len(ratios)} run pairs)")


if __name__ == "__main__":
    main()
