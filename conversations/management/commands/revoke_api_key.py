from django.core.management.base import BaseCommand, CommandError

from conversations import services
from conversations.errors import DomainError


class Command(BaseCommand):
    help = "Revoke an API key by its prefix (the first 12 characters of the secret). Takes effect at once."

    def add_arguments(self, parser):
        parser.add_argument("prefix", help="the key's prefix, as listed, e.g. cvs_AbCdEfGh")

    def handle(self, *args, prefix, **options):
        try:
            key = services.apikey_revoke(prefix=prefix, actor=services.SYSTEM)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Revoked API key {key.prefix}… of project {key.project.name!r}.")
