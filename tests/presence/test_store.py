"""The configured store (Redis with REDIS_URL, else memory) through its interface."""

from __future__ import annotations

import asyncio
import os

import pytest

from presence.store import MemoryPresenceStore, RedisPresenceStore, new_store


async def test_the_configured_backend_is_used(backend):
    store = new_store()
    expected = RedisPresenceStore if backend == "redis" else MemoryPresenceStore
    assert isinstance(store, expected)
    await store.close()


async def test_a_user_is_online_while_any_connection_is_alive():
    store = new_store()
    await store.add(user_id=1, conn_id="tab-1")
    await store.add(user_id=1, conn_id="tab-2")
    await store.add(user_id=2, conn_id="tab-3")
    await store.remove(user_id=1, conn_id="tab-1")
    assert await store.online_user_ids() == {1, 2}
    await store.remove(user_id=1, conn_id="tab-2")
    assert await store.online_user_ids() == store.online_user_ids_sync() == {2}
    await store.close()


async def test_unrefreshed_entries_lapse_and_refreshed_ones_do_not(presence_clock):
    store = new_store()
    await store.add(user_id=1, conn_id="alive")
    await store.add(user_id=2, conn_id="crashed")
    for _ in range(5):
        presence_clock.advance(store.ttl_seconds * 0.6)
        await store.refresh(entries=[(1, "alive")])
    assert await store.online_user_ids() == {1}
    assert await store.purge_expired() == 1
    assert await store.purge_expired() == 0
    assert await store.online_user_ids() == {1}
    await store.close()


async def test_published_state_is_swapped_whole():
    store = new_store()
    assert await store.swap_published(online={1, 2}) == set()
    assert await store.swap_published(online={2, 3}) == {1, 2}
    assert await store.swap_published(online=set()) == {2, 3}
    assert await store.swap_published(online={4}) == set()
    await store.close()


async def test_one_turn_per_interval_across_store_instances():
    first, second = new_store(), new_store()
    assert await first.claim_turn(seconds=5) == 0
    wait = await second.claim_turn(seconds=5)
    assert 0 < wait <= 5
    assert await first.claim_turn(seconds=5) > 0
    await first.close()
    await second.close()


async def test_the_turn_passes_when_it_lapses():
    turn = 0.05
    first, second = new_store(), new_store()
    assert await first.claim_turn(seconds=turn) == 0
    # Waiting as long as it is told to, as a publisher does, another process gets the turn.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while (wait := await second.claim_turn(seconds=turn)) > 0:
        assert wait <= turn
        assert loop.time() < deadline, "the turn never passed"
        await asyncio.sleep(wait)
    assert await first.claim_turn(seconds=turn) > 0
    await first.close()
    await second.close()


@pytest.mark.redis
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="runs in the CI pass with REDIS_URL")
async def test_a_thousand_concurrent_connects_all_count():
    # Stock redis-py pools hold 100 connections and raise on the 101st caller.
    store = new_store()
    results = await asyncio.gather(
        *(store.add(user_id=user_id, conn_id=f"tab-{user_id}") for user_id in range(1000)), return_exceptions=True
    )
    failures = [result for result in results if isinstance(result, BaseException)]
    assert failures == [], f"{len(failures)} failed, first: {failures[0]!r}"
    assert len(await store.online_user_ids()) == 1000
    await store.close()


@pytest.mark.redis
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="runs in the CI pass with REDIS_URL")
async def test_page_renders_read_the_online_set_again_only_when_it_changed(presence_clock):
    store = new_store()
    await store.add(user_id=1, conn_id="tab-1")
    assert store.online_user_ids_sync() == {1}
    # Written past the store, so no version moves: a re-read would see user 99.
    expires = presence_clock.now + store.ttl_seconds
    await store.client.zadd(store.conns_key, {"99:elsewhere": expires})
    assert store.online_user_ids_sync() == {1}
    await store.add(user_id=2, conn_id="tab-2")
    assert store.online_user_ids_sync() == {1, 2, 99}
    await store.remove(user_id=2, conn_id="tab-2")
    assert store.online_user_ids_sync() == {1, 99}
    # Nothing moved, but the earliest entry read has lapsed.
    await store.refresh(entries=[(1, "tab-1")])
    presence_clock.advance(store.ttl_seconds * 0.6)
    await store.refresh(entries=[(1, "tab-1")])
    presence_clock.advance(store.ttl_seconds * 0.6)
    assert store.online_user_ids_sync() == {1}
    await store.close()
