"""Query and path parameters built from the shared field rules (fields.py): every string bounded and
free of NUL, every integer inside its column, ids as the integers or digit strings nearby returns."""

from typing import Annotated, Any

from fastapi import Path, Query

from lbs_service.fields import INT64_MAX, NO_NUL_PATTERN, StoreId


def text_query(max_length: int, min_length: int = 0, **extra: Any) -> Any:
    return Query(min_length=min_length, max_length=max_length, pattern=NO_NUL_PATTERN, **extra)


RowIdPath = Annotated[int, Path(ge=1, le=INT64_MAX)]
StoreIdPath = Annotated[int, Path(ge=1, le=INT64_MAX, description="the store's id (as nearby returns it)")]
StoreIdQuery = Annotated[StoreId | None, Query(description="a store's id (as nearby returns it)")]
