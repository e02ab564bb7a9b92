"""Fuzzing from the schema: schemathesis builds requests from /api/schema/ and sends them, over real
HTTP and with a real API key, to pytest-django's live server.

No response may be a 5xx, and every response must match the schema: a documented status code,
JSON, the documented headers, and a body of the documented shape (for items, the SDK's own types).

The budget is fixed so CI stays fast, and derandomized so a run is repeatable:
- fuzzing phase: EXAMPLES_PER_OPERATION generated requests per operation, valid and invalid ones;
- coverage phase (schemathesis's deterministic boundary and negative cases): every case of the
  small operations, and a fixed sample of the thousands it derives for the two item bodies
  (a 30-member union).
Random path ids would only ever find 404s, so two cases in three are pointed at a real, freshly
made conversation (and one of its items) instead.
"""

import collections
import json
import zlib

import hypothesis
import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import make_api_key, make_conversation, make_project

EXAMPLES_PER_OPERATION = 25
COVERAGE_CASES_IN_FULL = 110  # per operation; past that, one coverage case in COVERAGE_SAMPLE_EVERY runs
COVERAGE_SAMPLE_EVERY = 64
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


def openapi_document() -> dict:
    """The document /api/schema/ serves, built without a request."""
    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


schema = schemathesis.openapi.from_dict(openapi_document())
seen: collections.Counter = collections.Counter()  # (operation, phase) -> cases generated
sent: collections.Counter = collections.Counter()  # (operation, phase) -> requests sent and checked
answers: collections.Counter = collections.Counter()  # (operation, status) -> responses


@pytest.fixture(scope="module", autouse=True)
def report_figures(request):
    """Print what was sent, per operation and phase, after the run (CI's log keeps the figures)."""
    yield
    operations = sorted({operation for operation, _ in seen})
    lines = [f"schemathesis: {len(operations)} operations, {sum(sent.values())} requests sent and checked"]
    for operation in operations:
        figures = ", ".join(f"{phase} {sent[operation, phase]} of {seen[operation, phase]}"
                            for phase in ("fuzzing", "coverage") if seen[operation, phase])
        statuses = " ".join(f"{status}x{answers[operation, status]}" for status in
                            sorted(status for op, status in answers if op == operation))
        lines.append(f"  {operation:58} {figures}; answers {statuses}")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n" + "\n".join(lines))


@pytest.fixture
def secret(live_server, settings):
    settings.CONVOSCOPE_API_RATE_LIMIT = None  # the budget is not what is being fuzzed
    return make_api_key(make_project("acme"))[1]


def chosen(case) -> bool:
    """Every fuzzing case; all coverage cases of an operation up to a point, then a fixed sample."""
    phase = case.meta.phase.name.value
    key = (case.operation.label, phase)
    seen[key] += 1
    if phase == "coverage" and seen[key] > COVERAGE_CASES_IN_FULL:
        fingerprint = repr((case.path_parameters, case.query, case.body)).encode("utf-8", "surrogatepass")
        if zlib.crc32(fingerprint) % COVERAGE_SAMPLE_EVERY:
            return False
    sent[key] += 1
    return True


def point_at_real_objects(case) -> None:
    """Two cases in three get a real conversation (with items) in place of the generated id."""
    params = case.path_parameters or {}
    generated = params.get("conversation_id")
    if not isinstance(generated, str) or zlib.crc32(generated.encode("utf-8", "surrogatepass")) % 3 == 0:
        return
    conversation = make_conversation(make_project("acme"), metadata={"team": "a"}, items=[
        {"role": "user", "content": "hello"},
        {"type": "function_call", "call_id": "call_1", "name": "lookup", "arguments": "{}"},
        {"role": "assistant", "content": "hi"},
    ])
    params["conversation_id"] = conversation.public_id
    if "item_id" in params:
        params["item_id"] = conversation.items.order_by("position")[1].public_id


@schema.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_no_request_makes_a_server_error_or_breaks_the_schema(case, live_server, secret):
    if not chosen(case):
        return
    point_at_real_objects(case)
    # A fresh connection per request: on a kept-alive one, the live server's second small TCP
    # send waits ~40 ms for the client's delayed ACK (see tests/sdk/helpers.py).
    headers = {"Authorization": f"Bearer {secret}", "Connection": "close"}
    response = case.call_and_validate(base_url=live_server.url, headers=headers, checks=CHECKS)
    answers[case.operation.label, response.status_code] += 1
