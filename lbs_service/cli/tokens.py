"""`lbs token ...`: signed bearer tokens for tests, demos and operators."""

from typing import Annotated

import typer

from lbs_service.cli.common import fail, settings

TtlOption = Annotated[int | None, typer.Option(min=1, max=366 * 86400,
                                               help="seconds until it expires (default LBS_TOKEN_TTL_S)")]
IdArgument = Annotated[int, typer.Argument(min=1, max=2**63 - 1, help="the id (as nearby and the API return it)")]


def _print_token(role: str, subject: str, store_id: int | None = None, merchant_id: int | None = None,
                 ttl: int | None = None) -> None:
    from lbs_service.auth import Principal, mint_token

    principal = Principal(role, subject, store_id, merchant_id)  # type: ignore[arg-type]
    try:
        print(mint_token(settings(), principal, ttl))
    except ValueError as error:
        fail(str(error))


def token_user(user_id: Annotated[str, typer.Argument(help="the user's id (1 to 200 printable characters)")],
               ttl: TtlOption = None) -> None:
    """A token for an app user."""
    _print_token("user", user_id, ttl=ttl)


def token_staff(store_id: IdArgument, ttl: TtlOption = None) -> None:
    """A token for the staff of one store (its console and redemptions)."""
    _print_token("staff", f"staff-{store_id}", store_id=store_id, ttl=ttl)


def token_merchant(merchant_id: IdArgument, ttl: TtlOption = None) -> None:
    """A token for a merchant's back office."""
    _print_token("merchant", f"merchant-{merchant_id}", merchant_id=merchant_id, ttl=ttl)


def token_operator(ttl: TtlOption = None) -> None:
    """A token for the platform operator."""
    _print_token("operator", "operator", ttl=ttl)
