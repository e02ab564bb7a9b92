"""Small helpers the console tests share: htmx headers, logged-in clients, reading result pages."""

import re
from urllib.parse import quote, urlsplit

from django.http import QueryDict
from django.test import Client

from tests.factories import make_user

# What htmx sends with every request it makes.
HX = {"HX-Request": "true"}
# What htmx 2 sends when the back button misses its history cache: it wants the whole page.
HX_HISTORY_RESTORE = {"HX-Request": "true", "HX-History-Restore-Request": "true"}

CONVERSATION_LINK = re.compile(r'<a href="/conversations/(conv_[0-9a-f]+)/" class="mono">')


def console_client(role: str | None, username: str | None = None, **client_kwargs) -> Client:
    """A fresh console client logged in as a new user holding `role` (None: logged in, no role)."""
    client = Client(**client_kwargs)
    client.force_login(make_user(username or f"user-{role or 'none'}", role))
    return client


def login_redirect(path: str) -> str:
    """Where login_required sends an anonymous request for `path`."""
    return f"/accounts/login/?next={quote(path, safe='/')}"


def listed_conversations(response) -> list[str]:
    """Public ids of the conversations a search page (or its rows fragment) lists, in order."""
    return CONVERSATION_LINK.findall(response.content.decode())


def split_location(url: str) -> tuple[str, QueryDict]:
    """A redirect target as (path, query) so tests do not depend on parameter order or encoding."""
    parts = urlsplit(url)
    return parts.path, QueryDict(parts.query)
