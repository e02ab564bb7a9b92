import re
from argparse import ArgumentTypeError
from datetime import datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from conversations import queries, retention, services
from conversations.models import Project

DURATION = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")
UNITS = {"h": "hours", "d": "days", "w": "weeks"}


class Command(BaseCommand):
    help = (
        "Retention: delete conversations (and all their items) created longer ago than a cutoff, in "
        "batches, exactly as deleting one in the console does; one audit event per run holds the counts. "
        "Without --older-than, each project's own retention setting (Project.retention_days) applies and "
        "projects without one are skipped. Made for cron: prints one summary line only when something was "
        "deleted (nothing with -v 0; per-project detail with -v 2); failures go to standard error with exit "
        "status 1."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", metavar="AGE", type=parse_age,
                            help="delete conversations created more than AGE ago: 90d, 12w or 36h")
        parser.add_argument("--project", help="only this project (by name)")
        parser.add_argument("--dry-run", action="store_true", help="count what would be deleted; delete nothing")
        parser.add_argument("--batch", type=int, default=500, help="conversations deleted per transaction "
                                                                   "(default: 500)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar (none anyway when "
                                                                       "standard error is not a terminal)")

    def handle(self, *args, older_than, project, dry_run, batch, no_progress, verbosity, **options):
        if batch < 1:
            raise CommandError("--batch must be at least 1.")
        cutoffs = self.cutoffs(older_than, project)
        progress = tqdm(total=None, unit="conv", desc="purging", file=self.stderr._out,
                        disable=True if no_progress or dry_run or verbosity == 0 else None)
        if not progress.disable:
            progress.total = sum(queries.purge_candidates(project=p, cutoff=c).count() for p, c in cutoffs.items())
        result = retention.conversations_purge(
            cutoffs=cutoffs, actor=services.Actor(label="command:purge"), batch_size=batch, dry_run=dry_run,
            on_batch=lambda conversations, items: progress.update(conversations),
        )
        progress.close()
        if not dry_run:
            retention.tombstones_prune()
        if verbosity >= 2:
            if not cutoffs:
                self.stdout.write("No project has a retention setting: nothing to do.")
            for name, counts in result.per_project.items():
                self.stdout.write(f"{name}: {counts['conversations']} conversation(s) and {counts['items']} "
                                  f"item(s) created before {counts['cutoff']}")
        if verbosity >= 2 or (verbosity >= 1 and (result.conversations or dry_run)):
            verb = "Would delete" if dry_run else "Deleted"
            self.stdout.write(f"{verb} {result.conversations} conversation(s) and {result.items} item(s) "
                              f"from {len(cutoffs)} project(s){' (dry run: nothing deleted)' if dry_run else ''}.")

    def cutoffs(self, older_than: timedelta | None, project_name: str | None) -> dict[Project, datetime]:
        now = timezone.now()
        projects = Project.objects.order_by("name")
        if project_name:
            projects = projects.filter(name=project_name)
            if not projects:
                raise CommandError(f"No project named {project_name!r}.")
        if older_than is not None:
            return {project: now - older_than for project in projects}
        if project_name and projects[0].retention_days is None:
            raise CommandError(f"Project {project_name!r} has no retention setting: give --older-than, or set "
                               "its retention_days (Django admin, Projects).")
        return {project: now - timedelta(days=project.retention_days)
                for project in projects if project.retention_days is not None}


def parse_age(raw: str) -> timedelta:
    match = DURATION.match(raw)
    if not match or int(match.group(1)) < 1:
        raise ArgumentTypeError(f"{raw!r} is not an age such as 90d, 12w or 36h")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
