"""GET /v1/merchants and /v1/categories: the merchants running open stores, and the kinds of store
there are - the planner's and the finder's filters."""

import asyncio

from fastapi import APIRouter

from lbs_service.analytics.outlets import merchant_list
from lbs_service.deps import ServicesDep
from lbs_service.responses import CategoryList, MerchantPublic

router = APIRouter(tags=["outlets"])


@router.get("/v1/merchants", response_model=list[MerchantPublic])
async def merchants(services: ServicesDep) -> list[MerchantPublic]:
    return await asyncio.to_thread(merchant_list, services.db, services.catalog)


@router.get("/v1/categories", response_model=CategoryList)
async def categories(services: ServicesDep) -> CategoryList:
    """The categories open stores have (what nearby's `category=` takes)."""
    return CategoryList(categories=services.catalog.categories())
