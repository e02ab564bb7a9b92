import argparse
import gzip
import json
import os
import sys
import time
import zlib
from collections import Counter
from collections.abc import Iterator

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone
from tqdm import tqdm

from conversations import importing, services
from conversations.errors import DomainError, InvalidInput
from conversations.models import Project
from conversations.portability import parse_line

MAX_REPORTED_ERRORS = 50
# Lines written together (importing.conversations_import): up to this many conversations, or
# fewer when they hold this many items. Memory holds one batch.
BATCH_LINES = 200
BATCH_ITEMS = 5000
# A longer line is refused unread (--max-line-bytes), skipped a chunk at a time.
MAX_LINE_BYTES = 64 * 1024 * 1024
SKIP_CHUNK_BYTES = 1024 * 1024
IMPORTER = services.Actor(label="command:import_conversations")


class Command(BaseCommand):
    help = (
        "Read conversations from JSON Lines written by export_conversations (or built to the same format) "
        "and store them exactly: ids, creation times, item order, metadata and every item body. Items are "
        "checked by the same rules as the API. Each conversation is all or nothing: a bad line is reported "
        "with its number and nothing of it is stored; the others go on (exit status 1 at the end). Importing "
        "the same file again changes nothing; a later export of the same conversations only appends what is "
        "new. Memory holds one batch of lines (200 conversations or 5,000 items), whatever the file's size; a "
        "line longer than --max-line-bytes is skipped unread. A truncated or corrupt file keeps every line "
        "before the damage. ANALYZE (PostgreSQL) refreshes the planner's statistics of what was written."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE", help="a .jsonl file (or .jsonl.gz), or - for standard input")
        parser.add_argument("--project", help="put every conversation into this project (created if missing) "
                                              "instead of the project named on each line")
        parser.add_argument("--max-line-bytes", type=_positive_int, default=MAX_LINE_BYTES, metavar="BYTES",
                            help="refuse (report and skip) a line longer than this, without reading it into "
                                 f"memory (default {MAX_LINE_BYTES}, 64 MiB)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar (none anyway when "
                                                                       "standard error is not a terminal)")

    def handle(self, *args, **options):
        path = options["file"]
        forced = None
        if options["project"]:
            try:
                forced = services.project_get_or_create(name=options["project"])
            except DomainError as exc:
                raise CommandError(exc.message) from None
        source, size = self.open_input(path)
        progress = tqdm(total=size, unit="B", unit_scale=True, unit_divisor=1024, desc="importing",
                        file=self.stderr._out, disable=True if options["no_progress"] else None, smoothing=0.1)
        started = time.perf_counter()
        postgres = connection.vendor == "postgresql" and not connection.in_atomic_block
        if postgres:
            # Each conversation still commits on its own, but does not wait for its commit to
            # reach the disk (about 1.5x faster); flush() then makes the whole run durable before
            # the summary claims success. A crash before that loses only the latest lines, which
            # importing the file again restores.
            with connection.cursor() as cursor:
                cursor.execute("SET synchronous_commit TO off")
        try:
            with source:
                outcomes, items_added, failed = self.import_lines(source, forced, progress, options["max_line_bytes"])
            importing.statistics_refresh(conversations=outcomes["created"] + outcomes["appended"] + outcomes["updated"],
                                        items=items_added)
        finally:
            if postgres:
                flush()
        progress.close()
        elapsed = time.perf_counter() - started
        total = sum(outcomes.values()) + failed
        summary = (
            f"Read {total} conversation(s) from {path}: {outcomes['created']} created, "
            f"{outcomes['appended']} appended to, {outcomes['updated']} updated, {outcomes['unchanged']} unchanged, "
            f"{failed} failed; {items_added} item(s) written in {elapsed:.1f} s "
            f"({items_added / elapsed if elapsed else 0:,.0f} items/s)."
        )
        if failed:
            if failed > MAX_REPORTED_ERRORS:
                self.stderr.write(f"({failed - MAX_REPORTED_ERRORS} more failed line(s) not shown)")
            raise CommandError(summary)
        self.stdout.write(summary)

    def import_lines(self, source, forced: Project | None, progress,
                     max_line_bytes: int = MAX_LINE_BYTES) -> tuple[Counter[str], int, int]:
        """Read, check and write the lines, a batch at a time (importing.conversations_import)."""
        projects: dict[str, Project] = {}
        outcomes: Counter[str] = Counter()
        items_added = failed = 0
        # (line number, line, what to import or why not), reported in line order
        batch: list[tuple[int, bytes, importing.ImportRequest | DomainError]] = []
        batch_items = 0

        def report(number: int, raw: bytes, exc: DomainError) -> None:
            nonlocal failed
            failed += 1
            if failed <= MAX_REPORTED_ERRORS:
                where = f" ({exc.param})" if exc.param else ""
                name = _id_of(raw)
                progress.clear()
                self.stderr.write(f"line {number}{' ' + name if name else ''}: {exc.message}{where}")

        def write() -> None:
            nonlocal items_added
            requests = [entry for _, _, entry in batch if isinstance(entry, importing.ImportRequest)]
            written = iter(importing.conversations_import(requests=requests, actor=IMPORTER, source="file"))
            for number, raw, entry in batch:
                result = next(written) if isinstance(entry, importing.ImportRequest) else entry
                if isinstance(result, DomainError):
                    report(number, raw, result)
                else:
                    outcomes[result.outcome] += 1
                    items_added += result.items_added
            batch.clear()

        for number, raw in read_lines(source, max_line_bytes, progress):
            if isinstance(raw, DomainError):  # too long, or the file is damaged here
                batch.append((number, b"", raw))
                continue
            if not raw.strip():
                continue
            try:
                record = parse_line(raw)
                project = forced or self.project(record.project, projects)
            except DomainError as exc:
                batch.append((number, raw, exc))
            else:
                batch.append((number, raw, importing.ImportRequest(
                    project=project, public_id=record.id, created_at=record.created_at or timezone.now(),
                    updated_at=record.updated_at, metadata=record.metadata, items=record.items,
                    items_created_at=record.items_created_at,
                )))
                batch_items += len(record.items) if isinstance(record.items, list) else 0
            if len(batch) >= BATCH_LINES or batch_items >= BATCH_ITEMS:
                write()
                batch_items = 0
        if batch:
            write()
        return outcomes, items_added, failed

    def open_input(self, path: str):
        """The file as binary lines (so the progress bar can count bytes), and its size if known."""
        if path == "-":
            return sys.stdin.buffer, None
        try:
            if path.endswith(".gz"):
                return gzip.open(path, "rb"), None
            return open(path, "rb"), os.path.getsize(path)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None

    def project(self, name: str | None, cache: dict[str, Project]) -> Project:
        if not name:
            raise DomainError("The line names no project: give --project.", param="project")
        if name not in cache:
            cache[name] = services.project_get_or_create(name=name)
        return cache[name]


def read_lines(source, max_line_bytes: int, progress) -> Iterator[tuple[int, bytes | DomainError]]:
    """The file's lines, numbered from 1, each at most `max_line_bytes` long (without its newline):
    a longer one is skipped a chunk at a time and given as the InvalidInput saying so. Where the
    file is damaged (a truncated or corrupt .gz, a read error), the InvalidInput saying so, and no
    more lines."""
    number = 0
    while True:
        number += 1
        try:
            raw = source.readline(max_line_bytes + 1)
            progress.update(len(raw))
            too_long = len(raw) > max_line_bytes and not raw.endswith(b"\n")
            if too_long:
                raw = b""
                while chunk := source.readline(SKIP_CHUNK_BYTES):
                    progress.update(len(chunk))
                    if chunk.endswith(b"\n"):
                        break
        except (EOFError, OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            yield number, InvalidInput(f"The file is truncated or corrupt ({exc}); nothing after this was read.")
            return
        if too_long:
            yield number, InvalidInput(f"Longer than {max_line_bytes} bytes; give a larger --max-line-bytes to "
                                       "import it.")
        elif raw:
            yield number, raw
        else:
            return


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number of bytes, not {text!r}")
    return value


def flush() -> None:
    """Wait until every earlier commit of this session is on disk: a synchronous commit of a
    transaction that has an id flushes the write-ahead log up to its own commit record, which
    comes after all of theirs."""
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO on")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()")


def _id_of(raw: bytes) -> str:
    """The conversation id a line names, for error messages ("" when it has none)."""
    try:
        data = json.loads(raw)  # lenient: a line refused for a NaN still names its conversation
    except (ValueError, RecursionError):
        return ""
    value = data.get("id") if isinstance(data, dict) else None
    return value[:80] if isinstance(value, str) else ""
