"""What every worker does now and then: write buffered demand, give back the stock of orders
nobody paid for, and delete what is past its retention (demand, relayed outbox rows, finished
Web Push deliveries).

Each step is safe to run on several workers at once (inserts ignore repeats, an order is
cancelled under lock only while still pending, deletes are idempotent).
"""

import asyncio
import logging

from lbs_service.o2o.orders import expire_unpaid
from lbs_service.outbox.pushes import prune_finished
from lbs_service.outbox.relay import prune_relayed
from lbs_service.services import Services

log = logging.getLogger(__name__)


async def housekeeping(services: Services, every_s: float = 10.0) -> None:
    rounds = 0
    settings = services.settings
    while True:
        await asyncio.sleep(every_s)
        rounds += 1
        try:
            await asyncio.shield(asyncio.to_thread(services.demand.flush))
            if rounds % 3 == 0:
                await asyncio.shield(asyncio.to_thread(expire_unpaid, services.db, settings.secret_key,
                                                       settings.order_payment_timeout_s, services.clock()))
            if rounds % 360 == 0:
                now = services.clock()
                await asyncio.shield(asyncio.to_thread(services.demand.expire, settings.demand_retention_days, now))
                await asyncio.shield(asyncio.to_thread(prune_relayed, services.db, settings.fix_retention_s, now))
                await asyncio.shield(asyncio.to_thread(prune_finished, services.db, settings.fix_retention_s, now))
        except Exception:  # a database blip: the next round retries
            log.exception("housekeeping failed")
