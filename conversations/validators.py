"""The contract's limits and the small values a request carries, written once: metadata, ids,
project names, paging parameters, unknown parameters, strict JSON. Items are checked in
conversations/item_rules.py, returned by conversations/projection.py.
"""

import json
import math
import typing

from . import ids
from .errors import InvalidInput

MAX_ITEMS_PER_REQUEST = 20
MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY_CHARS = 64
MAX_METADATA_VALUE_CHARS = 512
LIST_LIMIT_DEFAULT = 20
LIST_LIMIT_MAX = 100
ORDERS = ("asc", "desc")
INCLUDABLE = frozenset(
    {
        "file_search_call.results",
        "web_search_call.results",
        "web_search_call.action.sources",
        "message.input_image.image_url",
        "computer_call_output.output.image_url",
        "code_interpreter_call.outputs",
        "reasoning.encrypted_content",
        "message.output_text.logprobs",
    }
)
# How deeply JSON may nest (the document itself is level 1). Every reader of a stored body - the
# API's renderer, the console's pretty-printer, the export - handles this inside Python's
# recursion limit with room to spare: they give up at about 880 levels, and so does the API's
# parser (api/parsers.py, a RecursionError), so the API stores nothing much deeper either.
MAX_JSON_DEPTH = 800


# --- metadata --------------------------------------------------------------------------------


def validate_metadata(value: typing.Any, *, param: str = "metadata") -> dict[str, str]:
    """Metadata is at most 16 string pairs; keys 1..64 characters, values at most 512."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(
            f"Invalid type for '{param}': expected an object of string keys and string values.",
            param=param, code="invalid_type",
        )
    if len(value) > MAX_METADATA_PAIRS:
        raise InvalidInput(
            f"Invalid '{param}': too many properties. Expected an object with at most "
            f"{MAX_METADATA_PAIRS} properties, but got an object with {len(value)} properties instead.",
            param=param, code="object_above_max_properties",
        )
    for key, item in value.items():
        validate_metadata_pair(key, item, param=param)
    return dict(value)


def storable(value: str) -> bool:
    """False for text a database cannot hold: NUL characters (PostgreSQL refuses them) and
    unpaired UTF-16 surrogates (JSON can spell them, "\\ud800"; UTF-8 cannot encode them)."""
    if "\x00" in value:
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


UNSTORABLE = "a NUL character or an unpaired surrogate, which cannot be stored"


def validate_metadata_pair(key: typing.Any, value: typing.Any, *, param: str = "metadata") -> None:
    if not isinstance(key, str) or not key:
        raise InvalidInput(f"Invalid '{param}': keys must be non-empty strings.", param=param, code="invalid_value")
    if not storable(key) or (isinstance(value, str) and not storable(value)):
        raise InvalidInput(f"Invalid '{param}': the text holds {UNSTORABLE}.", param=param, code="invalid_value")
    if len(key) > MAX_METADATA_KEY_CHARS:
        raise InvalidInput(
            f"Invalid '{param}': the key '{key[:20]}…' is {len(key)} characters long; "
            f"keys may have at most {MAX_METADATA_KEY_CHARS} characters.",
            param=param, code="string_above_max_length",
        )
    if not isinstance(value, str):
        raise InvalidInput(
            f"Invalid type for '{param}.{key}': expected a string, but got {json_type(value)} instead.",
            param=param, code="invalid_type",
        )
    if len(value) > MAX_METADATA_VALUE_CHARS:
        raise InvalidInput(
            f"Invalid '{param}.{key}': the value is {len(value)} characters long; "
            f"values may have at most {MAX_METADATA_VALUE_CHARS} characters.",
            param=param, code="string_above_max_length",
        )


# --- unknown parameters ------------------------------------------------------------------------


MAX_PARAM_NAME_CHARS = 256


def unknown_parameter(param: str) -> InvalidInput:
    """OpenAI's answer to a key it does not know: 400 `unknown_parameter` naming it (spec §12)."""
    return InvalidInput(f"Unknown parameter: '{short(param)}'.", param=param[:MAX_PARAM_NAME_CHARS],
                        code="unknown_parameter")


def reject_unknown_parameters(names: typing.Iterable[str], allowed: typing.Container[str]) -> None:
    """Body or query parameters: the first name not in `allowed` raises."""
    for name in names:
        if name not in allowed:
            raise unknown_parameter(name)


# --- projects --------------------------------------------------------------------------------

MAX_PROJECT_NAME_CHARS = 100


def validate_project_name(value: typing.Any, *, param: str = "project") -> str:
    """A project name, surrounding spaces removed: 1 to MAX_PROJECT_NAME_CHARS characters a database can hold."""
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > MAX_PROJECT_NAME_CHARS:
        raise InvalidInput(f"A project name is 1 to {MAX_PROJECT_NAME_CHARS} characters.", param=param)
    if not storable(name):
        raise InvalidInput(f"A project name cannot hold {UNSTORABLE}.", param=param)
    return name


# --- JSON ------------------------------------------------------------------------------------


def parse_json(text: str | bytes) -> typing.Any:
    """Strict JSON (import_conversations): no NaN or Infinity, which neither JSON nor PostgreSQL's
    jsonb allows (nor numbers too large for a float, which Python would read as infinity), and
    at most MAX_JSON_DEPTH levels of nesting. InvalidInput (code invalid_json) says what is wrong."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise InvalidInput(f"Not valid JSON: nested more than {MAX_JSON_DEPTH} levels deep.",
                           code="invalid_json") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"Not valid JSON: {exc}.", code="invalid_json") from None
    # Only a document with that many brackets can nest that deep (bytes.count is cheap; the walk is not).
    if isinstance(text, bytes):
        brackets = text.count(b"[") + text.count(b"{")
    else:
        brackets = text.count("[") + text.count("{")
    if brackets > MAX_JSON_DEPTH and _deeper_than(value, MAX_JSON_DEPTH):
        raise InvalidInput(f"Not valid JSON: nested more than {MAX_JSON_DEPTH} levels deep.", code="invalid_json")
    return value


def _refuse_constant(name: str) -> typing.NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text[:40]} is too large for a number")
    return value


def _deeper_than(value: typing.Any, limit: int) -> bool:
    """True when arrays and objects nest more than `limit` levels (without recursion)."""
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


# --- paging parameters -------------------------------------------------------------------------


def validate_limit(raw: typing.Any) -> int:
    if raw is None or raw == "":
        return LIST_LIMIT_DEFAULT
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"Invalid 'limit': expected an integer, but got '{raw}' instead.", param="limit", code="invalid_type"
        ) from None
    if limit < 1:
        raise InvalidInput(
            f"Invalid 'limit': integer below minimum value. Expected a value >= 1, but got {limit} instead.",
            param="limit", code="integer_below_min_value",
        )
    if limit > LIST_LIMIT_MAX:
        raise InvalidInput(
            f"Invalid 'limit': integer above maximum value. Expected a value <= {LIST_LIMIT_MAX}, "
            f"but got {limit} instead.",
            param="limit", code="integer_above_max_value",
        )
    return limit


def validate_order(raw: typing.Any) -> str:
    if raw is None or raw == "":
        return "desc"
    if raw not in ORDERS:
        raise InvalidInput(
            f"Invalid value: '{raw}'. Supported values are: 'asc' and 'desc'.", param="order", code="invalid_value"
        )
    return raw


def validate_include(values: list[str]) -> frozenset[str]:
    for value in values:
        if value not in INCLUDABLE:
            supported = ", ".join(f"'{v}'" for v in sorted(INCLUDABLE))
            raise InvalidInput(
                f"Invalid value: '{value}'. Supported values are: {supported}.", param="include", code="invalid_value"
            )
    return frozenset(values)


# --- ids -------------------------------------------------------------------------------------------


def validate_conversation_id(value: typing.Any, *, param: str = "id") -> str:
    """A conversation id kept from another store (import, mirror): 1 to 64 URL-safe characters."""
    if not isinstance(value, str) or not ids.IMPORTED_CONVERSATION_ID_RE.match(value):
        raise InvalidInput(
            f"Invalid '{param}': a conversation id is 1 to 64 characters from A-Z, a-z, 0-9, '_', '-', '.' and ':'.",
            param=param, code="invalid_value",
        )
    return value


# --- wording of error messages ------------------------------------------------------------------


def json_type(value: typing.Any) -> str:
    """How an error message names the JSON type of a value a client sent."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def short(value: typing.Any) -> str:
    """A client's value as an error message quotes it: at most 60 characters."""
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."
