"""Every body the service answers with is documented by a named schema, so clients and the fuzzer
(test_fuzz_openapi checks each response against it) know its shape; binary and text bodies
(QR images, CSV, metrics) and the streamed coverage are the only ones left without."""

import pytest
from pydantic import ValidationError

from lbs_service.app import create_app
from lbs_service.responses import OrderStaffView, Public

UNDOCUMENTED = {"image/svg+xml", "image/png", "text/csv", "text/plain"}
STREAMED = {("get", "/v1/coverage")}


def _named(schema: dict) -> bool:
    if "$ref" in schema:
        return True
    if schema.get("type") == "array":
        return _named(schema["items"])
    return bool(schema.get("anyOf")) and all(_named(s) for s in schema["anyOf"])


def test_every_json_and_geojson_answer_has_a_named_schema(sqlite_settings):
    spec = create_app(sqlite_settings).openapi()
    seen = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if not status.startswith("2") or (method, path) in STREAMED:
                    continue
                for media_type, content in response.get("content", {}).items():
                    if media_type in UNDOCUMENTED:
                        continue
                    assert media_type in ("application/json", "application/geo+json"), (method, path, media_type)
                    assert _named(content.get("schema", {})), (method, path, status, media_type)
                    seen += 1
    assert seen >= 35


def test_a_staff_view_cannot_carry_a_pickup_code():
    """Response models refuse what they do not declare: a field the domain adds without declaring it
    fails in the tests (a 500) instead of leaking, and the staff's view of an order has no pickup code."""
    order = {"id": 1, "store_id": 2, "status": "paid", "total_cents": 100, "discount_cents": 0, "coupon_id": None,
             "created_at": "2026-01-01T00:00:00+00:00", "lines": []}
    assert OrderStaffView.model_validate(order).id == 1
    with pytest.raises(ValidationError):
        OrderStaffView.model_validate({**order, "pickup_code": "P123456789"})
    assert all(model.model_config.get("extra") == "forbid" for model in _all(Public))


def _all(model: type) -> list[type]:
    return [model, *(m for sub in model.__subclasses__() for m in _all(sub))]
