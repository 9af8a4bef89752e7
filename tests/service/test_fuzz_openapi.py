"""schemathesis against the OpenAPI the service publishes, as a user, as staff of store A and as
staff of store B: whatever the generated input, no server error, and every answer matches the
schema documented for its status. Bounded (examples per operation) so CI stays fast."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from lbs_service.settings import Settings
from lbs_service.storage.migrate import upgrade
from tests.faults.report import FaultRun, record
from tests.live import live_server, token
from tests.service.test_nearby_api import seed

EXAMPLES = 12  # per operation, each sent as three identities
# No 5xx; every status, content type and body as the OpenAPI document says.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    settings = Settings(database_url="", sqlite_path=folder / "lbs.sqlite3", redis_url="", rate_limits=False)
    upgrade(settings)
    seed(settings, count=20)
    with live_server(settings) as host:
        yield settings, host


@pytest.fixture(scope="module")
def identities(served):
    """Every generated request is sent once as each of them."""
    settings, _ = served
    credentials = [token(settings, "user", "fuzzer"), token(settings, "staff", "staff-a", 1),
                   token(settings, "staff", "staff-b", 2)]
    return [{"Authorization": f"Bearer {credential}"} for credential in credentials]


def test_no_server_errors_and_answers_match_the_schema(served, identities):
    _, host = served
    api = schemathesis.openapi.from_url(f"http://{host}/openapi.json")
    failures, operations, calls = [], 0, [0]
    for loaded in api.get_all_operations():
        operation = loaded.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def run(case):
            for headers in identities:
                calls[0] += 1
                case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as error:  # every operation is tried; all failures are reported together
            failures.append(f"{operation.method.upper()} {operation.path}: {str(error)[:600]}")
    server_errors = sum("Server error" in failure for failure in failures)
    record(FaultRun("schemathesis as user, staff A, staff B", calls[0], server_errors))
    assert operations >= 40
    assert not failures, "\n\n".join(failures)
