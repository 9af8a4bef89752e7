"""Answers of requests safe to retry (o2o/idempotency.py): the stored outcome as JSON, or as the
problem it was."""

from fastapi.responses import JSONResponse, Response

from lbs_service.o2o.idempotency import Outcome
from lbs_service.problems import problem


def outcome_response(outcome: Outcome) -> Response:
    if outcome.status < 400:
        return JSONResponse(outcome.body, status_code=outcome.status)
    return problem(outcome.status, outcome.body["title"], outcome.body["detail"])
