"""FastAPI dependencies as Annotated aliases, so routes read as plain signatures.

They are `async def` although none of them waits: FastAPI runs a plain `def` dependency in its thread
pool, which cost more than the nearby search itself (measured: lbs bench http)."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from lbs_service.auth import Principal, read_token, require_role
from lbs_service.errors import Unauthorized
from lbs_service.services import Services

_bearer = HTTPBearer(auto_error=False)


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def principal_of(services: Services, credential: str) -> Principal:
    """Who a bearer token speaks for: signed by us, not revoked, within its rate."""
    principal = services.revocations.check(read_token(services.settings, credential))
    await services.limits.check("token", principal.subject)
    return principal


async def get_principal(
    services: ServicesDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None:
        raise Unauthorized("this needs a bearer token (lbs token ...)")
    return await principal_of(services, credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_operator(principal: PrincipalDep) -> Principal:
    return require_role(principal, "operator")


OperatorDep = Annotated[Principal, Depends(get_operator)]


async def get_optional_principal(
    services: ServicesDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal | None:
    """Who is asking, when they say so; anonymous otherwise (a bad token is still refused)."""
    if credentials is None:
        return None
    return await principal_of(services, credentials.credentials)


OptionalPrincipalDep = Annotated[Principal | None, Depends(get_optional_principal)]

