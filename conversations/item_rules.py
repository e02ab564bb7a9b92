"""Item validation, written once: what may be stored as an item, normalised.

Items are checked against the openai SDK's own input types (`ResponseInputItemParam`, one
member chosen by the item's `type`) and, after normalisation, against the SDK's output model
for that type, so whatever is stored is something the SDK parses back in strict mode; items an
upstream server returns are accepted as the output models accept them (normalize_stored_item).
Upgrading the pinned `openai` package is how new item types arrive.
"""

import collections.abc
import types
import typing
from dataclasses import dataclass
from functools import cache

import typing_extensions
from openai.types.conversations import ConversationItem
from openai.types.responses import response_input_item_param
from pydantic import BaseModel, TypeAdapter, ValidationError

from . import ids
from .errors import InvalidInput
from .projection import with_nulls
from .search_text import extract_text
from .validators import MAX_ITEMS_PER_REQUEST, UNSTORABLE, json_type, short, storable, unknown_parameter

UNSUPPORTED_ITEM_TYPES = {
    # The API resolves references (services.resolve_item_references) before items get here; import
    # and mirror bring whole timelines, where a reference has nothing to point at.
    "item_reference": "Items of type 'item_reference' are not supported here; send the item itself.",
    "compaction_trigger": "Items of type 'compaction_trigger' are not supported by this server.",
}
# Output fields the SDKs' input types let a client leave out, and what a stored item says instead.
# (`status` is filled for every type that has one; see normalize_item.)
OUTPUT_DEFAULTS = {
    "tool_search_call": {"execution": "server"},
    "tool_search_output": {"execution": "server"},
}
# Longest string accepted per key (spec §7); every other string is capped at 10 MiB.
DEFAULT_STRING_CAP = 10_485_760
STRING_CAPS = {
    "image_url": 20_971_520,
    "encrypted_content": 20_971_520,
    "result": 20_971_520,
    "file_data": 73_400_320,
}
MAX_OUTPUT_CALL_ID_CHARS = 64
# --- items -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NormalizedItem:
    """An item ready to store: its body is exactly what the API will return."""

    public_id: str
    type: str
    role: str
    status: str
    body: dict
    text: str
    # Why the SDK's models refused this item, when it was stored as it came (`mirror --lenient`);
    # empty for every item that was checked.
    unvalidated: str = ""


def validate_items(items: typing.Any, *, param: str = "items", allow_empty: bool = True,
                   max_items: int | None = MAX_ITEMS_PER_REQUEST, stored: bool = False,
                   lenient: bool = False) -> list[NormalizedItem]:
    """Check and normalise a batch of input items; the first bad item raises InvalidInput.

    API requests carry at most 20 items; a whole timeline brought in by import or mirror has no
    such limit (`max_items=None`) but the same rules for every item. `stored=True` (import,
    mirror): items another server stored, checked by normalize_stored_item; every refused item
    is named in the one InvalidInput raised, and `lenient` keeps them as they came instead."""
    if not isinstance(items, list):
        raise InvalidInput(
            f"Invalid type for '{param}': expected an array of items, but got {json_type(items)} instead.",
            param=param, code="invalid_type",
        )
    if max_items is not None and len(items) > max_items:
        raise InvalidInput(
            f"Invalid '{param}': array too long. Expected an array with maximum length "
            f"{max_items}, but got an array with length {len(items)} instead.",
            param=param, code="array_above_max_length",
        )
    if not items and not allow_empty:
        raise InvalidInput(
            f"Invalid '{param}': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            param=param, code="empty_array",
        )
    if stored:
        normalized, refused = [], []
        for index, item in enumerate(items):
            try:
                normalized.append(normalize_stored_item(item, param=f"{param}[{index}]", lenient=lenient))
            except InvalidInput as exc:
                refused.append((index, item, exc))
        if refused:
            raise _refused_items(refused, len(items))
    else:
        normalized = [normalize_item(item, param=f"{param}[{index}]") for index, item in enumerate(items)]
    seen: set[str] = set()
    for index, item in enumerate(normalized):
        if item.public_id in seen:
            raise InvalidInput(
                f"Duplicate item id '{item.public_id}' in '{param}'.", param=f"{param}[{index}].id", code="duplicate_id"
            )
        seen.add(item.public_id)
    return normalized


def is_item_reference(item: typing.Any) -> bool:
    """`{"type": "item_reference", "id": …}`, or `{"id": …}` alone: the SDKs' ItemReference has an
    optional `type`, and nothing else in the input union is an object with only an `id`."""
    if not isinstance(item, dict):
        return False
    if item.get("type") == "item_reference":
        return True
    return "id" in item and item.get("type") is None and set(item) <= {"id", "type"}


def validate_item_reference(item: dict, *, param: str) -> str:
    """The id an item reference names, once the reference itself is well formed."""
    body = {**item, "type": "item_reference"}
    unknown = _unknown_field(body, _item_shapes(), param)
    if unknown is not None:
        raise unknown_parameter(unknown)
    _check_against(_adapter("item_reference"), body, param)
    return body["id"]


def normalize_item(item: typing.Any, *, param: str) -> NormalizedItem:
    if not isinstance(item, dict):
        raise InvalidInput(
            f"Invalid type for '{param}': expected an object, but got {json_type(item)} instead.",
            param=param, code="invalid_type",
        )
    item_type = item.get("type", "message")
    if not isinstance(item_type, str):
        raise InvalidInput(
            f"Invalid type for '{param}.type': expected a string, but got {json_type(item_type)} instead.",
            param=f"{param}.type", code="invalid_type",
        )
    if item_type in UNSUPPORTED_ITEM_TYPES:
        raise InvalidInput(UNSUPPORTED_ITEM_TYPES[item_type], param=f"{param}.type", code="unsupported_value")
    if item_type not in output_models():
        raise InvalidInput(
            f"Invalid value: '{short(item_type)}'. Supported item types are: "
            + ", ".join(f"'{t}'" for t in output_models()) + ".",
            param=f"{param}.type", code="invalid_value",
        )
    body = dict(item)
    body["type"] = item_type
    unknown = _unknown_field(body, _item_shapes(), param)
    if unknown is not None:
        raise unknown_parameter(unknown)
    if "id" in body and body["id"] is not None:
        if not isinstance(body["id"], str) or not ids.CLIENT_ID_RE.match(body["id"]):
            raise InvalidInput(
                f"Invalid '{param}.id': an item id is 1 to 128 characters from A-Z, a-z, 0-9, '_', '-', '.' and ':'.",
                param=f"{param}.id", code="invalid_value",
            )
    else:
        body["id"] = ids.new_item_id(item_type)
    output = output_models()[item_type]
    if "status" in output.model_fields and body.get("status") is None:
        body["status"] = "completed"
    for name, default in OUTPUT_DEFAULTS.get(item_type, {}).items():
        body.setdefault(name, default)

    _check_against(_input_adapter(body), body, param)
    if item_type == "message" and body.get("role") == "assistant" and isinstance(body.get("content"), list):
        _check_assistant_parts(body["content"], param)
    if item_type == "message" and isinstance(body.get("content"), str):
        body["content"] = [_text_part(body.get("role"), body["content"])]
    for name, field in output.model_fields.items():
        # Fields the output model requires but allows to be null (e.g. image_generation_call.result).
        if field.is_required() and name not in body and _allows_none(field.annotation):
            body[name] = None
    body = with_nulls(body)
    _check_sizes(body, param, item_type)
    _check_against(_output_adapter(item_type), body, param)

    return NormalizedItem(
        public_id=body["id"],
        type=item_type,
        role=_str_or_blank(body.get("role")),
        status=_str_or_blank(body.get("status")),
        body=body,
        text=extract_text(body),
    )


def normalize_stored_item(item: typing.Any, *, param: str, lenient: bool = False) -> NormalizedItem:
    """An item as another server stored and returned it (import, mirror).

    Kept exactly as it came (numbers as written, no field added) when the SDK's output model
    for its type accepts it, except that a `status` or a nullable field that model requires is
    filled as normalize_item fills it. Otherwise it is read as an input item (normalize_item:
    an exported timeline may hold items as they were sent). When both refuse it, `lenient`
    keeps it as it came, with the reason in `unvalidated`, provided it has a valid id and a
    database can hold it; otherwise InvalidInput (the output model's complaint)."""
    try:
        return _output_item(item, param)
    except InvalidInput as exc:
        refusal = exc
    try:
        return normalize_item(item, param=param)
    except InvalidInput as exc:
        if not isinstance(item, dict) or "id" not in item:
            refusal = exc  # an input-shaped item: the input rules say it better
    if not lenient:
        raise refusal
    return _unvalidated_item(item, param, refusal)


def _output_item(item: typing.Any, param: str) -> NormalizedItem:
    if not isinstance(item, dict) or not isinstance(item.get("type"), str) or item["type"] in UNSUPPORTED_ITEM_TYPES:
        return normalize_item(item, param=param)  # its complaint names the type
    item_type = item["type"]
    if item_type not in output_models():
        return normalize_item(item, param=param)
    _check_stored_id(item, param)
    unknown = _unknown_field(item, _item_shapes(), param)
    if unknown is not None:
        raise unknown_parameter(unknown)
    output = output_models()[item_type]
    body = item
    for name, field in output.model_fields.items():
        if not field.is_required() or body.get(name) is not None:
            continue
        if name == "status":
            body = {**body, "status": "completed"}
        elif name in OUTPUT_DEFAULTS.get(item_type, {}):
            body = {**body, name: OUTPUT_DEFAULTS[item_type][name]}
        elif name not in body and _allows_none(field.annotation):
            body = {**body, name: None}
    _check_sizes(body, param, item_type)
    _check_against(_output_adapter(item_type), body, param)
    return NormalizedItem(public_id=body["id"], type=item_type, role=_str_or_blank(body.get("role")),
                          status=_str_or_blank(body.get("status")), body=body, text=extract_text(body))


def _check_stored_id(item: typing.Any, param: str) -> None:
    if not isinstance(item.get("id"), str) or not ids.CLIENT_ID_RE.match(item["id"]):
        raise InvalidInput(
            f"Invalid '{param}.id': an item id is 1 to 128 characters from A-Z, a-z, 0-9, '_', '-', '.' and ':'.",
            param=f"{param}.id", code="invalid_value",
        )


def _unvalidated_item(item: typing.Any, param: str, refusal: InvalidInput) -> NormalizedItem:
    """An item kept as it came although the SDK's models refuse it: it still needs an id, and
    text a database can hold within the size limits."""
    if not isinstance(item, dict):
        raise refusal
    _check_stored_id(item, param)
    item_type = item.get("type", "message")
    if not isinstance(item_type, str) or not 1 <= len(item_type) <= 64:
        raise refusal
    _check_sizes(item, param, item_type)
    role, status = _str_or_blank(item.get("role")), _str_or_blank(item.get("status"))
    reason = f"{refusal.message} ({refusal.param})" if refusal.param else refusal.message
    return NormalizedItem(public_id=item["id"], type=item_type, role=role if len(role) <= 32 else "",
                          status=status if len(status) <= 32 else "", body=item, text=extract_text(item),
                          unvalidated=reason)


def _refused_items(refused: list[tuple[int, typing.Any, InvalidInput]], total: int) -> InvalidInput:
    """One error naming every refused item (its index, its id) and the field at fault."""
    lines = []
    for index, item, exc in refused:
        item_id = item.get("id") if isinstance(item, dict) else None
        named = f" ({short(item_id)})" if isinstance(item_id, str) else ""
        lines.append(f"items[{index}]{named}: {exc.message}")
    first = refused[0][2]
    if len(refused) == 1:
        return InvalidInput(lines[0].split(": ", 1)[1], param=first.param, code=first.code)
    return InvalidInput(f"{len(refused)} of {total} items cannot be stored: " + "; ".join(lines),
                        param=first.param, code=first.code)


# The SDK's types as shapes for finding unknown keys: a model or TypedDict class, a list of
# shapes, a map to shapes (any key), or ANY (free-form JSON: `object`, `Any`). Scalars have none.
ANY = "any"


def _unknown_field(value: typing.Any, shapes: tuple, path: str) -> str | None:
    """The dotted path of the first key no shape declares (`items[0].content[1].colour`), or None.

    A value is checked against every shape that could describe it (the SDK's input and output
    types alike): a key is known when any of them declares it. Objects with a `type` are checked
    against the classes whose `type` allows that value. Values of the wrong kind are left to the
    type check that follows, which names them better."""
    if ANY in shapes:
        return None
    if isinstance(value, dict):
        maps = [shape[1] for shape in shapes if isinstance(shape, tuple) and shape[0] == "map"]
        if maps:
            inner = tuple(s for group in maps for s in group)
            for key, child in value.items():
                found = _unknown_field(child, inner, f"{path}.{key}")
                if found:
                    return found
            return None
        classes = [shape for shape in shapes if isinstance(shape, type)]
        if not classes:
            return None
        if isinstance(value.get("type"), str):
            declaring = [cls for cls in classes if "type" in _fields(cls)]
            if not declaring:
                return f"{path}.type"
            classes = [cls for cls in declaring if _type_allows(cls, value["type"])]
            if not classes:
                return None  # an unsupported `type`: the type check names it
        for key, child in value.items():
            declared = [_fields(cls)[key] for cls in classes if key in _fields(cls)]
            if not declared:
                return f"{path}.{key}"
            found = _unknown_field(child, tuple(s for group in declared for s in group), f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(value, list):
        lists = [shape[1] for shape in shapes if isinstance(shape, tuple) and shape[0] == "list"]
        inner = tuple(s for group in lists for s in group)
        for index, element in enumerate(value):
            found = _unknown_field(element, inner, f"{path}[{index}]")
            if found:
                return found
    return None


@cache
def _item_shapes() -> tuple:
    """Every input member and every output model: `_unknown_field` picks by `type`."""
    inputs = typing.get_args(response_input_item_param.ResponseInputItemParam)
    return tuple(dict.fromkeys((*inputs, *output_models().values())))


@cache
def _fields(cls: type) -> dict[str, tuple]:
    """A model's or TypedDict's keys as sent on the wire (aliases, e.g. `async`), with their shapes."""
    if issubclass(cls, BaseModel):
        return {(field.alias or name): _shapes(field.annotation) for name, field in cls.model_fields.items()}
    hints = typing_extensions.get_type_hints(cls, include_extras=True)
    return {name: _shapes(annotation) for name, annotation in hints.items()}


def _shapes(annotation: typing.Any) -> tuple:
    if annotation is typing.Any or annotation is object:
        return (ANY,)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Annotated, typing_extensions.Required, typing_extensions.NotRequired,
                  typing_extensions.ReadOnly):
        return _shapes(args[0])
    if origin in (typing.Union, types.UnionType):
        return tuple(dict.fromkeys(shape for arg in args for shape in _shapes(arg)))
    if origin in (dict, collections.abc.Mapping):
        return (("map", _shapes(args[1]) if len(args) == 2 else (ANY,)),)
    if origin in (list, tuple, set, collections.abc.Iterable, collections.abc.Sequence) or (
            getattr(origin, "__name__", "") == "SequenceNotStr"):
        return (("list", _shapes(args[0]) if args else (ANY,)),)
    if isinstance(annotation, type) and (issubclass(annotation, BaseModel)
                                         or typing_extensions.is_typeddict(annotation)):
        return (annotation,)
    if isinstance(annotation, type) and issubclass(annotation, dict):
        return (("map", (ANY,)),)
    return ()  # a scalar or a Literal


def _type_allows(cls: type, value: typing.Any) -> bool:
    """Whether a class's `type` field accepts `value`: one of its Literal values, or any string."""
    literals = _type_literals(cls)
    return literals is None or value in literals


@cache
def _type_literals(cls: type) -> frozenset | None:
    if issubclass(cls, BaseModel):
        annotation = cls.model_fields["type"].annotation
    else:
        annotation = typing_extensions.get_type_hints(cls, include_extras=True)["type"]
    values: set = set()
    pending = [annotation]
    while pending:
        current = pending.pop()
        origin = typing.get_origin(current)
        if origin is typing.Literal:
            values.update(typing.get_args(current))
        elif origin is not None:
            pending.extend(typing.get_args(current))
        elif current is str:
            return None
    return frozenset(values)


def _text_part(role: typing.Any, text: str) -> dict:
    if role == "assistant":
        return {"type": "output_text", "text": text, "annotations": []}
    return {"type": "input_text", "text": text}


@cache
def output_models() -> dict[str, type[BaseModel]]:
    """The SDK's returned item models (the ConversationItem union), keyed by their `type`."""
    union = ConversationItem
    if typing.get_origin(union) is typing.Annotated:
        union = typing.get_args(union)[0]
    models = {}
    for model in typing.get_args(union):
        literal = model.model_fields["type"].annotation
        models[typing.get_args(literal)[0]] = model
    return models


@cache
def _input_members() -> dict[str, type]:
    members: dict[str, type] = {}
    for member in typing.get_args(response_input_item_param.ResponseInputItemParam):
        literal = typing.get_type_hints(member)["type"]
        while typing.get_origin(literal) is not typing.Literal:
            literal = typing.get_args(literal)[0]
        members.setdefault(member.__name__, member)
        kind = typing.get_args(literal)[0]
        if kind != "message":
            members.setdefault(kind, member)
    return members


@cache
def _adapter(name: str) -> TypeAdapter:
    return TypeAdapter(_input_members()[name])


@cache
def _output_adapter(item_type: str) -> TypeAdapter:
    return TypeAdapter(output_models()[item_type])


def _input_adapter(body: dict) -> TypeAdapter:
    if body["type"] != "message":
        return _adapter(body["type"])
    if body.get("role") == "assistant" and isinstance(body.get("content"), list):
        # An assistant message with parts is an output message: output_text and refusal parts.
        return _adapter("ResponseOutputMessageParam")
    return _adapter("EasyInputMessageParam")


def _check_against(adapter: TypeAdapter, body: dict, param: str) -> None:
    try:
        adapter.validate_python(body, strict=True)
    except ValidationError as exc:
        raise _input_error(exc, body, param) from None


def _check_assistant_parts(parts: list, param: str) -> None:
    # The SDK types these parts as a lazily checked Iterable, so check the part types here.
    for index, part in enumerate(parts):
        part_type = part.get("type") if isinstance(part, dict) else None
        if part_type not in ("output_text", "refusal"):
            raise InvalidInput(
                f"Invalid value: '{short(part_type)}'. Supported values are: 'output_text' and 'refusal'.",
                param=f"{param}.content[{index}].type", code="invalid_value",
            )


def _check_sizes(body: dict, param: str, item_type: str) -> None:
    def walk(value: typing.Any, path: str, key: str | None) -> None:
        if isinstance(value, str):
            if not storable(value):
                raise InvalidInput(f"Invalid '{path}': the text holds {UNSTORABLE}.", param=path,
                                   code="invalid_value")
            cap = STRING_CAPS.get(key, DEFAULT_STRING_CAP) if key is not None else DEFAULT_STRING_CAP
            if len(value) > cap:
                raise InvalidInput(
                    f"Invalid '{path}': string too long. Expected a string with maximum length {cap}, "
                    f"but got a string with length {len(value)} instead.",
                    param=path, code="string_above_max_length",
                )
        elif isinstance(value, list):
            for index, element in enumerate(value):
                walk(element, f"{path}[{index}]", key)
        elif isinstance(value, dict):
            for child_key, child in value.items():
                if not storable(child_key):
                    raise InvalidInput(f"Invalid '{path}': a key holds {UNSTORABLE}.", param=path,
                                       code="invalid_value")
                walk(child, f"{path}.{child_key}", child_key)

    walk(body, param, None)
    call_id = body.get("call_id")
    if item_type.endswith("_output") and isinstance(call_id, str) and not 1 <= len(call_id) <= MAX_OUTPUT_CALL_ID_CHARS:
        raise InvalidInput(
            f"Invalid '{param}.call_id': expected 1 to {MAX_OUTPUT_CALL_ID_CHARS} characters, "
            f"but got {len(call_id)}.",
            param=f"{param}.call_id", code="string_above_max_length",
        )


_TYPE_NAMES = {
    "string_type": "a string",
    "list_type": "an array",
    "iterable_type": "an array",
    "tuple_type": "an array",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "typed_dict_type": "an object",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "a boolean",
    "none_required": "null",
}


def _input_error(exc: ValidationError, body: dict, param: str) -> InvalidInput:
    """Turn pydantic's errors into one OpenAI-style error with a precise `param`.

    Pydantic reports every member of a union it tried, with the member's name in the error
    location. Errors from members whose `type` literal did not match are dropped (a part of
    type "input_image" is not a bad "input_text"); the deepest remaining error wins.
    """
    errors = exc.errors(include_url=False)
    wrong_branches = {
        tuple(e["loc"][:-1]) for e in errors if e["type"] == "literal_error" and e["loc"] and e["loc"][-1] == "type"
        and len(e["loc"]) > 1
    }
    candidates: dict[str, list[dict]] = {}
    rejected_types: dict[str, list[dict]] = {}
    for reported in errors:
        loc = tuple(reported["loc"])
        path, depth = _clean_path(body, loc, param, missing=reported["type"] == "missing")
        error: dict = {**reported, "_depth": depth}
        if error["type"] == "literal_error" and loc and loc[-1] == "type" and len(loc) > 1:
            rejected_types.setdefault(path, []).append(error)
        elif not any(loc[: len(b)] == b for b in wrong_branches):
            candidates.setdefault(path, []).append(error)
    best_depth = max((e["_depth"] for group in candidates.values() for e in group), default=-1)
    type_depth = max((e["_depth"] for group in rejected_types.values() for e in group), default=-1)
    if type_depth > best_depth:
        path, group = max(rejected_types.items(), key=lambda kv: kv[1][0]["_depth"])
        expected = []
        for error in group:
            for value in error.get("ctx", {}).get("expected", "").replace(" or ", ", ").split(", "):
                if value and value not in expected:
                    expected.append(value)
        return InvalidInput(
            f"Invalid value: '{short(group[0]['input'])}'. Supported values are: {', '.join(expected)}.",
            param=path, code="invalid_value",
        )
    path, group = max(candidates.items(), key=lambda kv: max(e["_depth"] for e in kv[1]))
    first = group[0]
    if first["type"] == "missing":
        return InvalidInput(f"Missing required parameter: '{path}'.", param=path, code="missing_required_parameter")
    type_names = [_TYPE_NAMES[e["type"]] for e in group if e["type"] in _TYPE_NAMES]
    if type_names and len(type_names) == len(group):
        wanted = " or ".join(dict.fromkeys(type_names))
        return InvalidInput(
            f"Invalid type for '{path}': expected {wanted}, but got {json_type(first['input'])} instead.",
            param=path, code="invalid_type",
        )
    if first["type"] == "literal_error":
        return InvalidInput(
            f"Invalid value: '{short(first['input'])}'. Supported values are: {first['ctx']['expected']}.",
            param=path, code="invalid_value",
        )
    return InvalidInput(f"Invalid value for '{path}': {first['msg']}.", param=path, code="invalid_value")


def _clean_path(body: typing.Any, loc: tuple, param: str, *, missing: bool) -> tuple[str, int]:
    """Follow the error location through the data, skipping pydantic's union-member labels."""
    path, depth, current = param, 0, body
    for position, segment in enumerate(loc):
        if isinstance(segment, int) and isinstance(current, list) and 0 <= segment < len(current):
            path += f"[{segment}]"
            current, depth = current[segment], depth + 1
        elif isinstance(segment, str) and isinstance(current, dict) and segment in current:
            path += f".{segment}"
            current, depth = current[segment], depth + 1
        elif missing and isinstance(segment, str) and position == len(loc) - 1:
            path += f".{segment}"  # a missing key
            depth += 1
    return path, depth


def _str_or_blank(value: typing.Any) -> str:
    return value if isinstance(value, str) else ""


def _allows_none(annotation: typing.Any) -> bool:
    return annotation is None or type(None) in typing.get_args(annotation)
