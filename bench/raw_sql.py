"""The raw-SQL baseline: the exact statements each endpoint runs, replayed with psycopg.

    .venv/bin/python bench/raw_sql.py --database-url postgres://postgres@127.0.0.1:5432/convoscope_bench

For each endpoint, requests are made in-process with Django's test client while the SQL is
captured (writes inside a transaction that is rolled back, so they can be replayed once).
Each request's statements are then replayed over one plain psycopg connection, timed, in a
transaction like the original. The per-request database time is the floor the endpoint's
latency is compared with (bench/report.py computes the ratio).
"""

import argparse
import json
import random
import time
from pathlib import Path

from common import ROOT, endpoints, load_samples, make_credentials, setup_django, summary

SKIP = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--project", default="seed")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--only", action="append")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "raw_sql.json")
    args = parser.parse_args()

    setup_django(args.database_url)
    import psycopg
    from django.db import connection, reset_queries, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    samples = load_samples(args.project)
    credentials = make_credentials(samples)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {credentials.api_key}")
    console = Client()
    from django.contrib.auth.models import User

    console.force_login(User.objects.get(username=credentials.username))

    results = {}
    rng = random.Random(11)
    # The same session settings as the app's connections (settings.py: no JIT).
    with psycopg.connect(args.database_url, autocommit=True, options="-c jit=off") as raw:
        for name, make in endpoints(samples, rng).items():
            if args.only and name not in args.only:
                continue
            groups, written = [], set()
            for _ in range(args.requests + 10):
                request = make()
                while request.method == "POST" and request.path in written:
                    request = make()  # a replayed write must not collide with another (same positions)
                written.add(request.path)
                client = console if request.console else api
                # Django keeps the last 9,000 queries; once that log is full, a capture sees none.
                reset_queries()
                with transaction.atomic(), CaptureQueriesContext(connection) as captured:
                    response = client.generic(request.method, request.path,
                                              json.dumps(request.body) if request.body else "",
                                              content_type="application/json")
                    transaction.set_rollback(True)
                assert response.status_code == 200, (name, response.status_code, response.content[:200])
                statements = [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(SKIP)]
                assert statements, f"{name}: no SQL captured for {request.path}"
                groups.append(statements)
            latencies = []
            started = time.perf_counter()
            for index, statements in enumerate(groups):
                begin = time.perf_counter()
                with raw.transaction():
                    for sql in statements:
                        cursor = raw.execute(sql)  # no parameters: psycopg sends the text as is
                        if cursor.description:
                            cursor.fetchall()
                if index >= 10:  # the first ones warm the caches
                    latencies.append((time.perf_counter() - begin) * 1000)
            results[name] = summary(latencies, time.perf_counter() - started)
            results[name]["statements"] = len(groups[-1])
            row = results[name]
            print(f"{name:32} {row['statements']:3} statements  p50 {row['p50_ms']:7.2f}  p95 {row['p95_ms']:7.2f}  "
                  f"p99 {row['p99_ms']:7.2f} ms", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"database_url": args.database_url.rsplit("@", 1)[-1], "endpoints": results},
                                   indent=2))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
