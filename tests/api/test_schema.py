"""The OpenAPI schema at /api/schema/ and its docs at /api/docs/ (api/schema.py)."""

import json
import re

import jsonschema
import pytest
from django.core.management import call_command
from drf_spectacular.drainage import reset_generator_stats
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from api.schema import item_types
from conversations import item_rules, validators

OPERATIONS = {
    ("get", "/v1/conversations"): "listConversations",
    ("post", "/v1/conversations"): "createConversation",
    ("get", "/v1/conversations/{conversation_id}"): "getConversation",
    ("post", "/v1/conversations/{conversation_id}"): "updateConversation",
    ("delete", "/v1/conversations/{conversation_id}"): "deleteConversation",
    ("get", "/v1/conversations/{conversation_id}/items"): "listConversationItems",
    ("post", "/v1/conversations/{conversation_id}/items"): "createConversationItems",
    ("get", "/v1/conversations/{conversation_id}/items/{item_id}"): "getConversationItem",
    ("delete", "/v1/conversations/{conversation_id}/items/{item_id}"): "deleteConversationItem",
}


@pytest.fixture(scope="module")
def schema():
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return json.loads(response.content)


def operations(schema):
    return {(method, path): op for path, methods in schema["paths"].items() for method, op in methods.items()}


def validator_for(schema, component):
    """A JSON Schema validator for one component, its $refs resolved inside the document."""
    return jsonschema.Draft202012Validator({"$ref": f"#/components/schemas/{component}", **schema})


def test_the_schema_is_a_valid_openapi_3_1_document(schema):
    assert schema["openapi"] == "3.1.0"
    validate_schema(schema)


def test_generating_the_schema_raises_no_warnings(tmp_path):
    # An unannotated view or an unresolvable type would be a warning (and a gap in the schema).
    reset_generator_stats()  # count this generation's warnings only
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def test_every_component_is_a_valid_json_schema(schema):
    for component in schema["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(component)


def test_every_reference_resolves(schema):
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(schema)))
    assert refs - set(schema["components"]["schemas"]) == set()


def test_it_describes_the_eight_openai_calls_and_the_conversation_list(schema):
    assert {key: op["operationId"] for key, op in operations(schema).items()} == OPERATIONS


def test_every_operation_needs_a_bearer_api_key(schema):
    scheme = schema["components"]["securitySchemes"]["ApiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for op in operations(schema).values():
        assert op["security"] == [{"ApiKey": []}], op["operationId"]


@pytest.mark.parametrize(("status", "when"), [
    ("400", lambda op: True),  # malformed HTTP reaches any operation (nginx answers it)
    ("401", lambda op: True),
    ("404", lambda op: "conversation_id" in [p["name"] for p in op.get("parameters", [])]),
    ("411", lambda op: "requestBody" in op),
    ("413", lambda op: "requestBody" in op),
    ("414", lambda op: True),
    ("429", lambda op: True),
    ("503", lambda op: True),
])
def test_errors_are_described_in_the_openai_error_shape(schema, status, when):
    for op in operations(schema).values():
        if not when(op):
            assert status not in op["responses"], op["operationId"]
            continue
        response = op["responses"][status]
        assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
        assert "x-request-id" in response["headers"]
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"message", "type", "param", "code"}


def test_a_429_says_when_to_retry(schema):
    for op in operations(schema).values():
        assert op["responses"]["429"]["headers"]["retry-after"]["schema"] == {"type": "integer"}


def test_the_conversation_list_documents_its_filters_and_paging(schema):
    params = {p["name"]: p for p in operations(schema)[("get", "/v1/conversations")]["parameters"]}
    assert set(params) == {"metadata", "text", "created_after", "created_before", "after", "limit", "order"}
    assert (params["metadata"]["style"], params["metadata"]["explode"]) == ("deepObject", True)
    assert params["metadata"]["schema"]["maxProperties"] == 16
    assert params["created_after"]["schema"]["format"] == "date-time"
    assert (params["limit"]["schema"]["minimum"], params["limit"]["schema"]["maximum"]) == (1, 100)
    assert params["order"]["schema"]["enum"] == ["asc", "desc"]


def test_include_lists_every_includable_value(schema):
    for key in [("get", "/v1/conversations/{conversation_id}/items"),
                ("post", "/v1/conversations/{conversation_id}/items"),
                ("get", "/v1/conversations/{conversation_id}/items/{item_id}")]:
        params = {p["name"]: p for p in operations(schema)[key]["parameters"]}
        assert set(params["include"]["schema"]["items"]["enum"]) == validators.INCLUDABLE


def test_the_returned_item_union_has_every_item_type_of_the_sdk(schema):
    types = item_types(schema["components"]["schemas"], "ConversationItem")
    assert types == set(item_rules.output_models())
    assert len(types) == 29
    mapping = schema["components"]["schemas"]["ConversationItem"]["discriminator"]["mapping"]
    assert set(mapping) == types


def test_the_input_item_union_has_every_item_type_the_sdk_can_send(schema):
    types = item_types(schema["components"]["schemas"], "InputItem")
    assert types == set(item_rules.output_models()) | {"item_reference", "compaction_trigger"}


def test_item_bodies_are_arrays_of_input_items_within_the_limits(schema):
    components = schema["components"]["schemas"]
    create_items = components["CreateItemsBody"]["properties"]["items"]
    assert create_items == {"type": "array", "items": {"$ref": "#/components/schemas/InputItem"},
                            "minItems": 1, "maxItems": 20}
    assert components["CreateItemsBody"]["required"] == ["items"]


def test_every_valid_example_item_is_an_input_item(schema, item_examples):
    validator = validator_for(schema, "InputItem")
    for item in item_examples["valid_inputs"]:
        validator.validate(item)


def test_every_item_the_api_returns_matches_the_schema(schema, api, item_examples):
    valid = item_examples["valid_inputs"]
    response = api.post("/v1/conversations", {"items": valid[:20]}, format="json")
    conversation_id = response.json()["id"]
    response = api.post(f"/v1/conversations/{conversation_id}/items", {"items": valid[20:]}, format="json")
    assert response.status_code == 200
    validator_for(schema, "ConversationItemList").validate(response.json())
    listed = api.get(f"/v1/conversations/{conversation_id}/items?limit=100&include[]=reasoning.encrypted_content"
                     "&include[]=message.output_text.logprobs").json()
    validator_for(schema, "ConversationItemList").validate(listed)
    assert {item["type"] for item in listed["data"]} == set(item_rules.output_models())
    validator_for(schema, "ConversationList").validate(api.get("/v1/conversations").json())
    validator_for(schema, "Conversation").validate(api.get(f"/v1/conversations/{conversation_id}").json())


def test_the_schema_needs_no_api_key_even_with_a_wrong_one(db):
    response = APIClient().get("/api/schema/", HTTP_AUTHORIZATION="Bearer cvs_wrong")
    assert response.status_code == 200


def test_the_docs_page_loads_swagger_ui_from_our_own_static_files(db):
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any("swagger-ui-bundle.js" in source for source in sources)
    assert all(source.startswith("/") for source in sources), sources  # nothing from a CDN
    script = next(source for source in sources if "script" in source)
    init = APIClient().get(script.replace("&amp;", "&"))
    assert init.status_code == 200
    assert "/api/schema/" in init.content.decode()
