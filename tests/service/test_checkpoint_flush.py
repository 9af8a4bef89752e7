"""Checkpoints are written by a periodic flush that yields to the sockets while it serialises: a user
erased in the middle of one gets nothing written, whether the flush succeeds or fails."""

import asyncio
import contextlib
import time

import pytest

from geo_index.fences import Fix
from geo_index.visits import VisitState
from lbs_service.proximity import engine as engine_module
from tests.conftest import client_for

USERS = [f"walker-{n}" for n in range(6)]


def _state(n: int) -> VisitState:
    state = VisitState()
    state.last = Fix(31.23 + n * 1e-4, 121.47, 1_000.0 + n, 10.0)
    return state


async def _flush_erasing(engine, erased: str) -> None:
    engine._saves = {user: _state(n) for n, user in enumerate(USERS)}
    flushing = asyncio.create_task(engine.flush_checkpoints())
    await asyncio.sleep(0)  # the flush takes the checkpoints owed, serialises one and yields
    assert not engine._saves  # taken (by this flush, or by the housekeeping's if it came first)
    engine.forget(erased)
    try:
        await flushing
    finally:
        async with engine._flush_lock:  # whichever flush took them has finished
            pass


@pytest.fixture
def engine_of(sqlite_settings, monkeypatch):
    monkeypatch.setattr(engine_module, "FLUSH_YIELD_EVERY", 1)
    with client_for(sqlite_settings) as client:
        yield client, client.app.state.services.engine


def test_a_user_erased_while_a_flush_serialises_gets_nothing_written(engine_of):
    client, engine = engine_of
    client.portal.call(_flush_erasing, engine, "walker-3")

    async def saved() -> list[bool]:
        return [await engine.fences.load(user) is not None for user in USERS]

    assert client.portal.call(saved) == [True, True, True, False, True, True]


def test_a_failed_flush_keeps_every_checkpoint_but_the_erased_users(engine_of):
    client, engine = engine_of

    async def refuse(states: dict[str, bytes]) -> None:
        raise ConnectionError("Redis away")

    engine.fences.save_many = refuse
    with pytest.raises(ConnectionError):
        client.portal.call(_flush_erasing, engine, "walker-4")
    assert sorted(engine._saves) == sorted(u for u in USERS if u != "walker-4")


async def _flush_then_detach(engine, fail: bool) -> float:
    """A flush holds the user's older checkpoint while their last socket closes with a newer state."""
    live = await engine.attach("walker-0")
    live.state = _state(0)  # ts 1000
    engine._saves = {"walker-0": engine_module.snapshot_state(live.state),
                     **{user: _state(n) for n, user in enumerate(USERS[1:], 1)}}
    if fail:
        saving = engine.fences.save_many

        async def refuse_once(states: dict[str, bytes]) -> None:
            engine.fences.save_many = saving
            raise ConnectionError("Redis away")

        engine.fences.save_many = refuse_once
    flushing = asyncio.create_task(engine.flush_checkpoints())
    await asyncio.sleep(0)  # the flush has taken the older checkpoint and is serialising
    live.state = _state(0)
    live.state.last = Fix(31.24, 121.47, 2_000.0, 10.0)  # the user moved on
    await engine.detach("walker-0")
    with pytest.raises(ConnectionError) if fail else contextlib.nullcontext():
        await flushing
    await engine.flush_checkpoints()  # the next flush (after a failed one: what it put back)
    loaded = await engine.fences.load("walker-0")
    return loaded.last.ts


@pytest.mark.parametrize("fail", [False, True])
def test_a_flush_never_writes_a_users_older_checkpoint_over_the_one_their_last_socket_left(engine_of, fail):
    client, engine = engine_of
    assert client.portal.call(_flush_then_detach, engine, fail) == 2_000.0


def test_effects_committed_after_a_detached_users_erasure_checkpoint_nothing_older(engine_of):
    """The user's socket is gone and their last effects are still being committed (retried while the
    database is away) when they erase their data: the state those effects carry is from before."""
    from lbs_service.proximity.effects import FixEffects

    client, engine = engine_of

    async def settle_around_an_erasure() -> tuple[bool, bool]:
        before = FixEffects("leaver", checkpoint=_state(0), received=time.perf_counter())
        engine.forget("leaver")
        after = FixEffects("leaver", checkpoint=_state(1), received=time.perf_counter())
        await engine._settled([before], True, [], [])
        kept_before = "leaver" in engine._saves
        await engine._settled([after], True, [], [])
        return kept_before, engine._saves.get("leaver") is after.checkpoint

    assert client.portal.call(settle_around_an_erasure) == (False, True)
