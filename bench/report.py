"""Turn benchmark JSON into the tables of bench/RESULTS.md.

    .venv/bin/python bench/report.py --api bench/results/api.json --raw bench/results/raw_sql.json
    .venv/bin/python bench/report.py --growth bench/results/api-10k.json bench/results/api-1m.json

Prints markdown: per endpoint the API figures, the raw-SQL time and their ratio; or, for
growth, each endpoint's p50/p95 at the small and the large size and the ratio large/small.
"""

import argparse
import json
from pathlib import Path


def load(path: Path) -> dict:
    return json.loads(path.read_text())["endpoints"]


def overhead_table(api: dict, raw: dict) -> str:
    lines = ["| endpoint | req/s | p50 ms | p95 ms | p99 ms | raw SQL p50 ms | raw SQL p95 ms | p50 ratio API/SQL |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, row in api.items():
        base = raw.get(name, {})
        ratio = row["p50_ms"] / base["p50_ms"] if base.get("p50_ms") else float("nan")
        lines.append(f"| {name} | {row['throughput_rps']} | {row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} | "
                     f"{base.get('p50_ms', '–')} | {base.get('p95_ms', '–')} | {ratio:.1f}× |")
    return "\n".join(lines)


def growth_table(small: dict, large: dict) -> str:
    lines = ["| endpoint | small p50 | large p50 | small p95 | large p95 | p95 ratio large/small |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, row in large.items():
        before = small.get(name)
        if not before:
            continue
        lines.append(f"| {name} | {before['p50_ms']} | {row['p50_ms']} | {before['p95_ms']} | {row['p95_ms']} | "
                     f"{row['p95_ms'] / before['p95_ms']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", type=Path)
    parser.add_argument("--raw", type=Path)
    parser.add_argument("--growth", nargs=2, type=Path, metavar=("SMALL", "LARGE"))
    args = parser.parse_args()
    if args.growth:
        print(growth_table(load(args.growth[0]), load(args.growth[1])))
    if args.api:
        print(overhead_table(load(args.api), load(args.raw) if args.raw else {}))


if __name__ == "__main__":
    main()
