"""Plain make_* helpers for test data. They go through the services, as real callers do."""

from django.contrib.auth.models import Group, User

from conversations import services
from conversations.models import ApiKey, Conversation, Project


def make_project(name: str = "acme") -> Project:
    return services.project_get_or_create(name=name)


def make_api_key(project: Project, name: str = "test") -> tuple[ApiKey, str]:
    return services.apikey_create(project=project, actor=services.SYSTEM, name=name)


def make_user(username: str, role: str | None) -> User:
    """A console user holding `role` ("viewer", "operator", "admin"; None: no role); password "pw-<username>"."""
    user = User.objects.create_user(username=username, password="pw-" + username)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def make_conversation(project: Project, *, items=None, metadata=None) -> Conversation:
    conversation, _ = services.conversation_create(
        project=project, actor=services.SYSTEM, items=items, metadata=metadata
    )
    return conversation


def make_messages(count: int, prefix: str = "message") -> list[dict]:
    return [{"role": "user", "content": f"{prefix} {n}"} for n in range(count)]


def append_messages(conversation: Conversation, count: int, prefix: str = "message") -> list:
    """Append `count` user messages, 20 at a time (the per-request limit)."""
    rows = []
    for start in range(0, count, 20):
        rows += services.items_append(
            conversation=conversation, actor=services.SYSTEM,
            items=make_messages(min(20, count - start), prefix=f"{prefix} {start}+"),
        )
    return rows
