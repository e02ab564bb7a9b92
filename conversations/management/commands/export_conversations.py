import gzip
import io
import os
import time
from contextlib import contextmanager, nullcontext

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Sum
from django.http import QueryDict
from tqdm import tqdm

from conversations.errors import DomainError
from conversations.filters import OUT_OF_RANGE, ConversationFilter
from conversations.models import Conversation, Project
from conversations.portability import export_lines


class Command(BaseCommand):
    help = (
        "Write conversations as JSON Lines, one conversation per line with its metadata and all its items "
        "in order (the format import_conversations reads back, losslessly). Streams: memory stays bounded "
        "by the largest single conversation, whatever the export's size. On PostgreSQL the whole export "
        "reads one consistent snapshot."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", help="only this project's conversations (by name)")
        parser.add_argument("--metadata", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                            help="only conversations whose metadata holds every one of these pairs")
        parser.add_argument("--since", metavar="DATE",
                            help="only conversations created at or after this date or time "
                                 "(2026-03-01, or ISO-8601 such as 2026-03-01T12:00:00+00:00; UTC when no offset)")
        parser.add_argument("-o", "--output", metavar="FILE", default="-",
                            help="write here (default: standard output; gzipped when FILE ends in .gz); written "
                                 "to FILE.partial and renamed when complete, so a failed export never leaves a "
                                 "complete-looking file")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar (none anyway when "
                                                                       "standard error is not a terminal)")

    def handle(self, *args, **options):
        conversations = self.select(options)
        to_stdout = options["output"] == "-"
        progress = tqdm(total=None, unit="item", unit_scale=True, desc="exporting", file=self.stderr._out,
                        disable=True if options["no_progress"] else None, smoothing=0.1)
        if not progress.disable:
            progress.total = conversations.aggregate(n=Sum("item_count"))["n"] or 0
        started = time.perf_counter()
        count = items = 0
        with self.snapshot(), self.open_output(options["output"]) as out:
            for line in export_lines(conversations):
                out.write(line.text)
                out.write("\n")
                count += 1
                items += line.items
                progress.update(line.items)
        progress.close()
        elapsed = time.perf_counter() - started
        summary = (f"Exported {count} conversation(s) and {items} item(s) in {elapsed:.1f} s "
                   f"({items / elapsed if elapsed else 0:,.0f} items/s).")
        # The data may be on standard output: the summary must not land in it.
        (self.stderr if to_stdout else self.stdout).write(summary, style_func=lambda s: s)

    def select(self, options):
        """The options become the query parameters of GET /v1/conversations, filtered by the same
        ConversationFilter: its date parsing and its metadata rules, not a copy of them."""
        scope = Conversation.objects.all()
        if options["project"]:
            project = Project.objects.filter(name=options["project"]).first()
            if project is None:
                raise CommandError(f"No project named {options['project']!r}.")
            scope = scope.for_project(project.pk)
        query = QueryDict(mutable=True)
        for pair in options["metadata"]:
            key, sep, value = pair.partition("=")
            if not sep:
                raise CommandError(f"Write a metadata filter as KEY=VALUE, not {pair!r}.")
            query.appendlist(f"metadata[{key}]", value)
        if options["since"]:
            query["created_after"] = options["since"]
        filterset = ConversationFilter(query, queryset=scope)
        if not filterset.is_valid():  # only --since fills a field of the FilterSet's form
            since = options["since"]
            if filterset.form.has_error("created_after", code=OUT_OF_RANGE):
                raise CommandError(f"--since {since!r} is outside the years 1 to 9999 in UTC.")
            raise CommandError(f"--since wants a date (2026-03-01) or an ISO-8601 time, not {since!r}.")
        try:
            return filterset.qs_or_raise()
        except DomainError as exc:  # a metadata filter over the limits
            raise CommandError(exc.message) from None

    @contextmanager
    def open_output(self, path: str):
        if path == "-":
            yield self.stdout._out
            return
        partial = path + ".partial"
        try:
            raw = open(partial, "wb")
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc.strerror}.") from None
        try:
            with raw:
                sink: io.BufferedWriter | gzip.GzipFile = raw
                if path.endswith(".gz"):
                    # The name inside the gzip header is the final one, not the .partial.
                    sink = gzip.GzipFile(filename=os.path.basename(path)[:-3], mode="wb", fileobj=raw)
                with io.TextIOWrapper(sink, encoding="utf-8", newline="\n") as handle:
                    yield handle
        except BaseException:
            os.unlink(partial)
            raise
        os.replace(partial, path)

    def snapshot(self):
        """PostgreSQL: one read-only REPEATABLE READ transaction, so every line is from the same
        moment. (SQLite's transactions here take the write lock: it reads page by page instead.)"""
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            return nullcontext()
        return _postgres_snapshot()


@contextmanager
def _postgres_snapshot():
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield

