"""The FilterSets: every reader that filters conversations or audit events takes them from here.

ConversationFilter: the API's list endpoint (scoped to the key's project), `manage.py
export_conversations` (its options turned into the same parameters), and, as
ConsoleConversationFilter, the console's search and its download. AuditEventFilter: the console's
audit log.

Metadata filters arrive as repeatable `metadata[KEY]=VALUE` query parameters (ANDed), the
same spelling the OpenAI SDK uses for its bracketed parameters.
"""

import re
from datetime import UTC

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict

from . import validators
from .errors import InvalidInput
from .models import AuditEvent, Conversation, Project

METADATA_PARAM = re.compile(r"^metadata\[(.*)\]$", re.DOTALL)
OUT_OF_RANGE = "out_of_range"  # the code of a date and time that UTC cannot hold


def metadata_pairs(data: QueryDict) -> list[tuple[str, str]]:
    """The `metadata[KEY]=VALUE` pairs of a query string, each checked against the metadata limits."""
    pairs = []
    for name in data:
        match = METADATA_PARAM.match(name)
        if not match:
            continue
        key = match.group(1)
        # A key over the limit is not echoed back whole as the parameter's name.
        param = name if len(key) <= validators.MAX_METADATA_KEY_CHARS else "metadata"
        for value in data.getlist(name):
            validators.validate_metadata_pair(key, value, param=param)
            pairs.append((key, value))
    if len(pairs) > validators.MAX_METADATA_PAIRS:
        raise InvalidInput(
            f"Too many metadata filters: at most {validators.MAX_METADATA_PAIRS} are allowed.",
            param="metadata", code="too_many_filters",
        )
    return pairs


class UtcDateTimeField(forms.DateTimeField):
    """A date and time that exists in UTC too: 0001-01-01T00:00+01:00 is in year 0 there, which the
    database adapters cannot convert (it was a 500 on SQLite). The value is handed on in UTC:
    PostgreSQL refuses offsets beyond ±15:59 (-16:00 was a 500 there), and ISO 8601 allows them."""

    def to_python(self, value):
        result = super().to_python(value)
        if result is not None:
            try:
                result = result.astimezone(UTC)
            except OverflowError:
                raise ValidationError(
                    "Enter a date/time between 0001-01-01 and 9999-12-31 in UTC.", code=OUT_OF_RANGE
                ) from None
        return result


class UtcDateTimeFilter(django_filters.DateTimeFilter):
    field_class = UtcDateTimeField


class ConversationFilter(django_filters.FilterSet):
    """Used by GET /v1/conversations (scoped to the key's project) and the console search."""

    text = django_filters.CharFilter(method="filter_text", label="Text in items", max_length=200)
    created_after = UtcDateTimeFilter(field_name="created_at", method="filter_created_after",
                                      label="Created on or after")
    created_before = UtcDateTimeFilter(field_name="created_at", method="filter_created_before",
                                       label="Created before")

    class Meta:
        model = Conversation
        fields: list[str] = []

    def filter_text(self, queryset, name, value):
        return queryset.matching_text(value.strip()) if value.strip() else queryset

    def filter_created_after(self, queryset, name, value):
        return queryset.created_since(value)

    def filter_created_before(self, queryset, name, value):
        return queryset.created_before(value)

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        return queryset.with_metadata(metadata_pairs(self.data))

    def qs_or_raise(self):
        """The filtered queryset, or InvalidInput naming the first bad parameter."""
        if not self.is_valid():
            field, messages = next(iter(self.errors.items()))
            raise InvalidInput(f"Invalid '{field}': {' '.join(messages)}", param=field)
        return self.qs


class ConsoleConversationFilter(ConversationFilter):
    """The console sees every project, so it can also filter by one."""

    project = django_filters.ModelChoiceFilter(queryset=Project.objects.all(), empty_label="All projects")


class AuditEventFilter(django_filters.FilterSet):
    """The console's audit log. Lenient, as a page of links should be (read `.qs`, not
    qs_or_raise): an unknown action is left out of the filtering; an actor or conversation no row
    can hold matches nothing."""

    action = django_filters.ChoiceFilter(choices=AuditEvent.Action.choices, empty_label="Any action")
    actor = django_filters.CharFilter(method="filter_actor", label="Actor")
    conversation = django_filters.CharFilter(method="filter_conversation", label="Conversation")

    class Meta:
        model = AuditEvent
        fields: list[str] = []

    def filter_queryset(self, queryset):
        if "actor" in self.errors or "conversation" in self.errors:
            return queryset.none()  # text no row can hold (a NUL): nothing matches, as with where()
        return super().filter_queryset(queryset)

    def filter_actor(self, queryset, name, value):
        """Part of the actor's label, ignoring case: `alice` finds user:alice and api_key:cvs_ALICE…"""
        return queryset.where(actor_label__icontains=value)

    def filter_conversation(self, queryset, name, value):
        return queryset.where(conversation_id=value)
