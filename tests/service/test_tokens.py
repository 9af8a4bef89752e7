"""Bearer tokens: the algorithm is pinned (HS256), and exp, iat, iss and aud are required and checked."""

import base64
import json
from collections import OrderedDict

import jwt
import pytest

from lbs_service import auth
from lbs_service.auth import Principal, mint_token
from lbs_service.errors import Unauthorized


def _claims(settings, **overrides):
    """A genuine token's claims (its iat and exp are the service's own: tokens live on the wall clock)."""
    claims = jwt.decode(mint_token(settings, Principal("operator", "op")), options={"verify_signature": False})
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _unsigned(claims: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.parametrize("make", [
    pytest.param(lambda s: _unsigned(_claims(s)), id="alg-none"),
    pytest.param(lambda s: jwt.encode(_claims(s), s.secret_key, algorithm="HS512"),  # right key, other algorithm
                 marks=pytest.mark.filterwarnings("ignore:The HMAC key"), id="hs512"),
    pytest.param(lambda s: jwt.encode(_claims(s), "another-secret-of-enough-length-000", algorithm="HS256"),
                 id="wrong-key"),
    pytest.param(lambda s: jwt.encode(_claims(s, aud="someone-else"), s.secret_key, algorithm="HS256"), id="aud"),
    pytest.param(lambda s: jwt.encode(_claims(s, iss="someone-else"), s.secret_key, algorithm="HS256"), id="iss"),
    pytest.param(lambda s: jwt.encode(_claims(s, exp=None), s.secret_key, algorithm="HS256"), id="no-exp"),
    pytest.param(lambda s: jwt.encode(_claims(s, iat=None), s.secret_key, algorithm="HS256"), id="no-iat"),
    pytest.param(lambda s: jwt.encode(_claims(s, role="superuser"), s.secret_key, algorithm="HS256"),
                 id="unknown-role"),
])
def test_tokens_that_are_not_ours_exactly_are_refused(sqlite_client, sqlite_settings, make):
    response = sqlite_client.post("/v1/stores", json={"source_id": "T", "name": "t", "lat": 1.0, "lng": 1.0},
                                  headers={"Authorization": f"Bearer {make(sqlite_settings)}"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_our_token_is_accepted(sqlite_client, sqlite_settings):
    token = mint_token(sqlite_settings, Principal("operator", "op"))
    response = sqlite_client.post("/v1/stores", json={"source_id": "T", "name": "t", "lat": 1.0, "lng": 1.0},
                                  headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201


def test_a_remembered_token_still_expires_and_still_answers_to_its_own_key(sqlite_settings, monkeypatch):
    token = mint_token(sqlite_settings, Principal("user", "walker"), ttl_s=600)
    first = auth.read_token(sqlite_settings, token)
    assert auth.read_token(sqlite_settings, token) is first  # remembered: not verified again
    other_key = sqlite_settings.model_copy(update={"secret_key": "another-secret-of-enough-length-000"})
    with pytest.raises(Unauthorized):  # remembered for the key that verified it, never for another
        auth.read_token(other_key, token)
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    monkeypatch.setattr(auth.time, "time", lambda: expires + 0.0)  # the moment it expires
    with pytest.raises(Unauthorized, match="expired"):
        auth.read_token(sqlite_settings, token)


def test_the_remembered_tokens_are_bounded(sqlite_settings, monkeypatch):
    monkeypatch.setattr(auth, "_VERIFIED_MAX", 50)
    monkeypatch.setattr(auth, "_verified", OrderedDict())
    tokens = [mint_token(sqlite_settings, Principal("user", f"u{n}")) for n in range(120)]
    assert [auth.read_token(sqlite_settings, t).subject for t in tokens] == [f"u{n}" for n in range(120)]
    assert len(auth._verified) == 50
