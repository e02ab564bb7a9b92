import json
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from conversations import services
from conversations.models import Project

DEMO_PROJECT = "demo"
DEMO_ROLES = ("viewer", "operator", "admin")
CREDENTIALS_FILE = Path(settings.BASE_DIR) / ".demo-credentials.json"

DEMO_CONVERSATIONS = [
    (
        {"user_id": "user_123", "plan": "pro", "channel": "web"},
        [
            {"role": "system", "content": "You are Convoscope's friendly support agent."},
            {"role": "user", "content": "Where is my order #123?"},
            {"type": "function_call", "call_id": "call_order", "name": "lookup_order",
             "arguments": json.dumps({"order_id": "123"})},
            {"type": "function_call_output", "call_id": "call_order",
             "output": json.dumps({"status": "shipped", "eta": "tomorrow"})},
            {"role": "assistant", "content": "Your order #123 has shipped and arrives tomorrow."},
        ],
    ),
    (
        {"user_id": "user_456", "plan": "free", "channel": "mobile", "locale": "fr-FR"},
        [
            {"role": "user", "content": "Bonjour, je n'arrive pas à me connecter."},
            {"type": "reasoning",
             "summary": [{"type": "summary_text", "text": "User cannot log in; suggest a reset."}]},
            {"role": "assistant",
             "content": "Essayez de réinitialiser votre mot de passe depuis la page de connexion."},
        ],
    ),
    (
        {"user_id": "user_123", "plan": "pro", "channel": "email"},
        [
            {"role": "user", "content": [
                {"type": "input_text", "text": "Is this the right cable?"},
                {"type": "input_image", "image_url": "https://example.com/cable.png", "detail": "auto"},
            ]},
            {"role": "assistant", "content": "Yes, that is a USB-C to USB-C cable rated for 100 W."},
        ],
    ),
]


class Command(BaseCommand):
    help = (
        "Load a small demo data set, one demo login per console role and a demo API key (once), and print the "
        "credentials. Used by `make run`; safe to run again."
    )

    def handle(self, *args, **options):
        credentials = self.load_or_create()
        self.stdout.write("")
        self.stdout.write("Convoscope demo credentials (also in .demo-credentials.json):")
        for role in DEMO_ROLES:
            self.stdout.write(f"  console login : {role} / {credentials['users'][role]}  ({role})")
        self.stdout.write(f"  API key       : {credentials['api_key']}")
        self.stdout.write("")

    def load_or_create(self) -> dict:
        if Project.objects.filter(name=DEMO_PROJECT).exists() and CREDENTIALS_FILE.exists():
            return json.loads(CREDENTIALS_FILE.read_text())
        project = services.project_get_or_create(name=DEMO_PROJECT)
        for metadata, items in DEMO_CONVERSATIONS:
            services.conversation_create(project=project, actor=services.SYSTEM, metadata=metadata, items=items)
        _, api_key = services.apikey_create(project=project, actor=services.SYSTEM, name="demo")
        users = {}
        for role in DEMO_ROLES:
            password = secrets.token_urlsafe(9)
            # The demo admin may also use the Django admin (/admin/).
            user, _ = get_user_model().objects.get_or_create(username=role)
            user.is_staff = user.is_superuser = role == "admin"
            user.set_password(password)
            user.save()
            user.groups.set([Group.objects.get(name=role)])
            users[role] = password
        credentials = {"users": users, "api_key": api_key}
        CREDENTIALS_FILE.write_text(json.dumps(credentials, indent=2))
        CREDENTIALS_FILE.chmod(0o600)
        return credentials
