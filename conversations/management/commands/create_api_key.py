from django.core.management.base import BaseCommand, CommandError

from conversations import services
from conversations.errors import DomainError


class Command(BaseCommand):
    help = (
        "Create an API key for a project (creating the project if it does not exist). "
        "The secret is printed once, alone on the last line; only its hash is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project name (created if missing)")
        parser.add_argument("--name", default="", help="a label for the key, e.g. the integration using it")

    def handle(self, *args, project, name, **options):
        try:
            project_obj = services.project_get_or_create(name=project)
            key, secret = services.apikey_create(project=project_obj, actor=services.SYSTEM, name=name)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Created API key {key.prefix}… for project {project_obj.name!r}.")
        self.stdout.write("Store the secret now; it cannot be shown again:")
        self.stdout.write(secret)
