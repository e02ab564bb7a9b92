"""Console forms. Rules live in conversations.validators; these only gather the input."""

from django import forms

from conversations import validators
from conversations.models import ApiKey, Project

from .errors import domain_rules


class MetadataForm(forms.Form):
    """Metadata as rows of key and value inputs (repeated `key` and `value` fields), checked by the
    API's own validator. Its limits, for the form's help text, are read from there too."""

    @property
    def max_pairs(self) -> int:
        return validators.MAX_METADATA_PAIRS

    @property
    def max_key_chars(self) -> int:
        return validators.MAX_METADATA_KEY_CHARS

    @property
    def max_value_chars(self) -> int:
        return validators.MAX_METADATA_VALUE_CHARS

    def __init__(self, data=None, *, metadata: dict | None = None):
        super().__init__(data)
        if data is not None:
            self.rows = list(zip(data.getlist("key"), data.getlist("value"), strict=False))
        else:
            self.rows = sorted((metadata or {}).items())
        self.blank_rows = range(2)

    def clean(self):
        metadata: dict[str, str] = {}
        for key, value in self.rows:
            key = key.strip()
            if not key and not value:
                continue
            if not key:
                raise forms.ValidationError(f"The value {value[:40]!r} has no key.")
            if key in metadata:
                raise forms.ValidationError(f"The key {key!r} appears twice.")
            metadata[key] = value
        with domain_rules():
            self.cleaned_data["metadata"] = validators.validate_metadata(metadata)
        return self.cleaned_data


class ApiKeyForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.all(), required=False, empty_label="(new project)")
    new_project = forms.CharField(max_length=validators.MAX_PROJECT_NAME_CHARS, required=False,
                                  label="New project name")
    name = forms.CharField(max_length=ApiKey._meta.get_field("name").max_length, required=False, label="Label",
                           help_text="e.g. the integration using it")

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if data.get("project"):
            return data
        if not (data.get("new_project") or "").strip():
            raise forms.ValidationError("Choose a project or name a new one.")
        with domain_rules():
            data["new_project"] = validators.validate_project_name(data["new_project"], param="new_project")
        return data


class AuditCursorForm(forms.Form):
    """The audit log's "Older events" cursor: the id of the last event shown."""

    after = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
