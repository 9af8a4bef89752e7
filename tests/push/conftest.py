import os
import uuid

import pytest
import redis.asyncio as redis

from push.broker import InProcessBroker
from push.redis_broker import RedisBroker
from tests.conftest import _service_url


def redis_url() -> str:
    return _service_url("LBS_TEST_REDIS_URL")


@pytest.fixture(params=["inprocess", "redis"])
async def broker(request):
    if request.param == "inprocess":
        yield InProcessBroker(retention=50)
        return
    prefix = f"lbs-test-{uuid.uuid4().hex[:8]}"
    backend = RedisBroker(redis_url(), retention=50, prefix=prefix)
    yield backend
    cleaner = redis.Redis.from_url(redis_url())
    keys = [k async for k in cleaner.scan_iter(f"{prefix}:*")]
    if keys:
        await cleaner.delete(*keys)
    await cleaner.aclose()


@pytest.fixture
def redis_test_url():
    return os.environ.get("LBS_TEST_REDIS_URL") or redis_url()
