import itertools
import os
import sys
import time
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from conversations import mirror, services
from conversations.errors import DomainError

MIRROR = services.Actor(label="command:mirror")
OUTCOME_WORDS = {"created": "copied", "appended": "new items copied", "updated": "metadata updated",
                 "unchanged": "up to date", "recopied": "copied again from the start"}
CONCURRENCY = 4
# This many connection failures in a row (each after its retries) and the upstream is taken to be down.
UNREACHABLE_AFTER = 3


class Command(BaseCommand):
    help = (
        "Copy conversations by id from any OpenAI-compatible Conversations API (OpenAI itself, another "
        "Convoscope, ...) through the official openai SDK: same ids, same order, every item type, every "
        "optional field. Running it again fetches only the items added upstream since. Network errors are "
        "retried with exponential backoff; a conversation that still fails is reported and left as it was "
        "(its items are written in one transaction, after all of them were fetched); the exit status is then 1."
    )

    def add_arguments(self, parser):
        parser.add_argument("ids", nargs="*", metavar="CONV_ID", help="conversation ids to copy")
        parser.add_argument("--ids-file", metavar="FILE",
                            help="read more ids from FILE, one per line (- for standard input; # comments)")
        parser.add_argument("--base-url", default=os.environ.get("OPENAI_BASE_URL"),
                            help="the upstream API, e.g. https://api.openai.com/v1 (default: $OPENAI_BASE_URL)")
        parser.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY"),
                            help="the upstream API key (default: $OPENAI_API_KEY, which keeps it out of "
                                 "the process list and shell history)")
        parser.add_argument("--project", required=True, help="the project to copy into (created if missing)")
        parser.add_argument("--max-retries", type=int, default=mirror.MAX_RETRIES,
                            help=f"retries per request on network errors, 408, 409, 429 and 5xx "
                                 f"(default: {mirror.MAX_RETRIES})")
        parser.add_argument("--timeout", type=float, default=mirror.TIMEOUT_SECONDS,
                            help=f"seconds per request (default: {mirror.TIMEOUT_SECONDS:g})")
        parser.add_argument("--concurrency", type=int, default=CONCURRENCY,
                            help=f"conversations fetched at once (default: {CONCURRENCY}); those fetched "
                                 "are written together, each all or nothing")
        parser.add_argument("--lenient", action="store_true",
                            help="keep items the openai SDK's models refuse as they came, marked as unvalidated "
                                 "(the console shows it), instead of refusing their conversation")
        parser.add_argument("--recopy", action="store_true",
                            help="when the last item copied here is gone upstream, delete the copy here and "
                                 "copy the conversation again from the start")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar (none anyway when "
                                                                       "standard error is not a terminal)")

    def handle(self, *args, **options):
        if not options["base_url"]:
            raise CommandError("Give --base-url (or set OPENAI_BASE_URL).")
        if not options["base_url"].startswith(("http://", "https://")):
            raise CommandError(f"--base-url must be an http(s) URL, not {options['base_url']!r}.")
        if not options["api_key"]:
            raise CommandError("Give --api-key (or set OPENAI_API_KEY).")
        if options["max_retries"] < 0 or options["timeout"] <= 0:
            raise CommandError("--max-retries must be 0 or more and --timeout more than 0.")
        if not 1 <= options["concurrency"] <= 64:
            raise CommandError("--concurrency must be 1 to 64.")
        ids = list(dict.fromkeys(options["ids"] + self.read_ids(options["ids_file"])))
        if not ids:
            raise CommandError("Name at least one conversation id (arguments or --ids-file).")
        try:
            project = services.project_get_or_create(name=options["project"])
        except DomainError as exc:
            raise CommandError(exc.message) from None

        client = mirror.make_client(options["base_url"], options["api_key"], max_retries=options["max_retries"],
                                    timeout=options["timeout"])
        source = mirror.source_label(options["base_url"])
        progress = tqdm(total=len(ids), unit="conv", desc="mirroring", file=self.stderr._out,
                        disable=True if options["no_progress"] else None)
        outcomes: Counter[str] = Counter()
        items = unvalidated = 0
        started = time.perf_counter()
        stopped = ""

        def report(result: mirror.MirrorResult) -> None:
            nonlocal items, unvalidated
            outcomes[result.outcome] += 1
            items += result.items_added
            unvalidated += result.unvalidated
            progress.update()
            progress.clear()
            if result.outcome == "failed":
                self.stderr.write(f"{result.conversation_id}: failed: {result.error}")
                return
            if result.note:
                self.stderr.write(f"{result.conversation_id}: note: {result.note}")
            if options["verbosity"] >= 1:
                count = f", {result.items_added} item(s)" if result.items_added else ""
                marked = f" ({result.unvalidated} kept unvalidated)" if result.unvalidated else ""
                self.stdout.write(f"{result.conversation_id}: {OUTCOME_WORDS[result.outcome]}{count}{marked}")

        # Workers only fetch (HTTP, no database); this thread reads what is stored and writes, in the
        # order the ids were given, the fetched conversations ready in a row together (a few statements
        # and one transaction for the new ones: each statement run while the workers parse answers
        # waits for the GIL, so a statement per conversation made the writes the bottleneck).
        pending: deque[Future] = deque()
        todo = iter(ids)
        in_a_row = 0
        ahead = 2 * options["concurrency"]  # fetches queued: few are made once the upstream is down
        with client, ThreadPoolExecutor(max_workers=options["concurrency"]) as pool:
            def submit(count: int) -> None:
                conversation_ids = list(itertools.islice(todo, count))
                if not conversation_ids:
                    return
                for local in mirror.local_states(project=project, conversation_ids=conversation_ids):
                    pending.append(pool.submit(mirror.fetch_and_check, client, local, project=project,
                                               lenient=options["lenient"], recopy=options["recopy"]))

            submit(ahead)
            while pending:
                batch: list[mirror.Fetched] = []
                while pending and (not batch or pending[0].done()):
                    future = pending.popleft()
                    if future.cancelled():
                        continue
                    fetched = future.result()
                    batch.append(fetched)
                    in_a_row = in_a_row + 1 if fetched.unreachable else 0
                    if in_a_row >= UNREACHABLE_AFTER and not stopped:
                        # The upstream is down: no new fetches, and those not started yet are dropped.
                        stopped = fetched.error
                        for waiting in pending:
                            waiting.cancel()
                for result in mirror.store_conversations(batch, project=project, actor=MIRROR, source=source,
                                                         lenient=options["lenient"]):
                    report(result)
                if not stopped:
                    submit(ahead - len(pending))
        progress.close()
        not_tried = len(ids) - sum(outcomes.values())
        elapsed = time.perf_counter() - started
        summary = (
            f"Mirrored {len(ids)} conversation(s) from {options['base_url']} into project {project.name!r}: "
            f"{outcomes['created']} new, {outcomes['appended']} with new items, {outcomes['updated']} with new "
            f"metadata only, {outcomes['unchanged']} up to date, {outcomes['failed']} failed; {items} item(s) "
            f"copied in {elapsed:.1f} s ({items / elapsed if elapsed else 0:,.0f} items/s)."
        )
        if outcomes["recopied"]:
            summary += f" {outcomes['recopied']} copied again from the start (--recopy)."
        if unvalidated:
            summary += f" {unvalidated} item(s) kept unvalidated (--lenient)."
        if stopped:
            summary += (f" Stopped after {UNREACHABLE_AFTER} connection failures in a row ({stopped}); "
                        f"{not_tried} conversation(s) not tried.")
        if outcomes["failed"] or stopped:
            raise CommandError(summary)
        if options["verbosity"] >= 1:
            self.stdout.write(summary)

    def read_ids(self, path: str | None) -> list[str]:
        if not path:
            return []
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
        lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
        return [line for line in lines if line]
