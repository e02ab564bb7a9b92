from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from dashboard.roles import ROLE_PERMISSIONS


class Command(BaseCommand):
    help = (
        "Give a console user a role (viewer, operator or admin), replacing any other role. "
        "With --create, make the user first (the password is asked for, or taken from --password)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("role", choices=sorted(ROLE_PERMISSIONS))
        parser.add_argument("--create", action="store_true", help="create the user if it does not exist")
        parser.add_argument("--password", help="password for a new user (default: prompt)")

    def handle(self, *args, username, role, create, password, **options):
        users = get_user_model()
        user = users.objects.filter(username=username).first()
        if user is None:
            if not create:
                raise CommandError(f"No user {username!r}; add --create to make one.")
            if password is None:
                from getpass import getpass

                password = getpass(f"Password for {username}: ")
            if not password:
                raise CommandError("A new user needs a password.")
            user = users.objects.create_user(username=username, password=password)
        others = user.groups.filter(name__in=ROLE_PERMISSIONS).exclude(name=role)
        user.groups.remove(*others)
        user.groups.add(Group.objects.get(name=role))
        self.stdout.write(f"{username} is now {role}.")
