import json
import multiprocessing
import os
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from tqdm import tqdm

from conversations import importing, services
from conversations.errors import DomainError
from conversations.models import Conversation
from conversations.seeding import Seeder, normalized_item

CONVERSATION_COLUMNS = ("id", "public_id", "project_id", "metadata", "created_at", "updated_at", "next_position",
                        "item_count")


class Command(BaseCommand):
    help = (
        "Fill a project with realistic fake conversations (a mix of item types; metadata such as "
        "user_id, plan, channel, locale). PostgreSQL: COPY from several worker processes; "
        "SQLite: bulk inserts."
    )

    def add_arguments(self, parser):
        parser.add_argument("--conversations", type=int, required=True, help="how many conversations to add")
        parser.add_argument("--items-per-conversation", type=int, default=10, help="items in each conversation")
        parser.add_argument("--project", default="seed", help="project name (created if missing; default: seed)")
        parser.add_argument("--seed", type=int, default=42, help="random seed, for repeatable data")
        parser.add_argument("--batch", type=int, default=1000, help="conversations written per transaction")
        parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                            help="parallel writer processes on PostgreSQL (default: one per core)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options):
        total, per = options["conversations"], options["items_per_conversation"]
        if total < 1 or per < 1:
            raise CommandError("--conversations and --items-per-conversation must be at least 1")
        try:
            project = services.project_get_or_create(name=options["project"])
        except DomainError as exc:
            raise CommandError(exc.message) from None
        postgres = connection.vendor == "postgresql"
        workers = max(1, min(options["workers"], total // options["batch"] + 1)) if postgres else 1
        progress = tqdm(total=total * per, unit="item", unit_scale=True, disable=options["no_progress"],
                        file=self.stderr._out, desc="seeding", smoothing=0.1)
        started = time.perf_counter()
        if workers == 1:
            for done in seed_slice(project.pk, 0, total, total, per, options["seed"], options["batch"], postgres):
                progress.update(done)
        else:
            # Each worker writes its own slice of the conversations over its own connection.
            connection.close()
            context = multiprocessing.get_context("fork")
            queue = context.Queue()
            bounds = [total * n // workers for n in range(workers + 1)]
            processes = [
                context.Process(target=_worker, args=(queue, project.pk, bounds[n], bounds[n + 1], total, per,
                                                      options["seed"] + n, options["batch"]))
                for n in range(workers)
            ]
            for process in processes:
                process.start()
            running = len(processes)
            while running:
                message = queue.get()
                if message is None:
                    running -= 1
                elif isinstance(message, str):
                    for process in processes:
                        process.terminate()
                    raise CommandError(f"a seeding worker failed: {message}")
                else:
                    progress.update(message)
            for process in processes:
                process.join()
        progress.close()
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE conversations_conversation")
                cursor.execute("ANALYZE conversations_item")
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"Seeded {total} conversations and {total * per} items into project {project.name!r} "
            f"in {elapsed:.1f} s ({total * per / elapsed:,.0f} items/s, {workers} worker(s))."
        )


def _worker(queue, project_id, start, stop, total, per, seed, batch) -> None:
    try:
        for done in seed_slice(project_id, start, stop, total, per, seed, batch, postgres=True):
            queue.put(done)
    except Exception as exc:  # reported to the parent, which stops the run
        queue.put(f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()
        queue.put(None)


def seed_slice(project_id, start, stop, total, per, seed, batch_size, postgres):
    """Write conversations start..stop of total; yields the number of items written per batch."""
    seeder = Seeder(conversations=total, items_per_conversation=per, seed=seed)
    write = copy_batch if postgres else orm_batch
    if postgres:
        with connection.cursor() as cursor:
            # Seed data can be made again: do not wait for each batch to reach the disk.
            cursor.execute("SET synchronous_commit TO off")
    batch = []
    for conversation in seeder.conversations(start, stop):
        batch.append(conversation)
        if len(batch) >= batch_size:
            write(project_id, batch)
            yield len(batch) * per
            batch = []
    if batch:
        write(project_id, batch)
        yield len(batch) * per


def copy_batch(project_id, batch) -> None:
    """PostgreSQL: reserve the conversations' ids, then COPY both tables in one transaction."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('conversations_conversation', 'id')) "
                       "FROM generate_series(1, %s)", [len(batch)])
        pks = [row[0] for row in cursor.fetchall()]
        raw = cursor.cursor  # the psycopg cursor, for COPY
        with raw.copy(f"COPY conversations_conversation ({', '.join(CONVERSATION_COLUMNS)}) FROM STDIN") as copy:
            for pk, conversation in zip(pks, batch, strict=True):
                copy.write_row((pk, conversation.public_id, project_id, json.dumps(conversation.metadata),
                                conversation.created_at, conversation.created_at, len(conversation.items),
                                len(conversation.items)))
        write_items_of([Conversation(pk=pk) for pk in pks], batch)


def orm_batch(project_id, batch) -> None:
    with transaction.atomic():
        rows = Conversation.objects.bulk_create([
            Conversation(public_id=c.public_id, project_id=project_id, metadata=c.metadata, created_at=c.created_at,
                         updated_at=c.created_at, next_position=len(c.items), item_count=len(c.items))
            for c in batch
        ])
        write_items_of(rows, batch)


def write_items_of(rows: list[Conversation], batch) -> None:
    """The batch's items, written by the import's writer (PostgreSQL: one COPY)."""
    importing.write_items([
        (row, [normalized_item(body) for body in conversation.items], 0,
         [conversation.created_at] * len(conversation.items))
        for row, conversation in zip(rows, batch, strict=True)
    ])
