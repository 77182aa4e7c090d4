"""The registry of open streams: shutdown ends them all, one ending costs O(1)."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from pushgate.sse import StreamRegistry


async def test_each_open_stream_has_its_own_ending() -> None:
    registry = StreamRegistry()
    with contextlib.ExitStack() as streams:
        endings = [streams.enter_context(registry._opened()) for _ in range(1000)]
        assert len(registry) == 1000
        # Nothing is shared, so a stream that ends never has to look at the
        # others (a shared future made every ending scan every stream).
        assert len({id(ending) for ending in endings}) == 1000
        assert not any(ending.done() for ending in endings)
    assert len(registry) == 0


async def test_shutdown_ends_open_streams_and_refuses_new_ones() -> None:
    registry = StreamRegistry()
    with registry._opened() as first, registry._opened() as second:
        registry.cancel_all()
        await asyncio.wait_for(asyncio.gather(first, second), 1)
        with registry._opened() as late:
            assert late.done()
    assert registry.closing


async def test_shutdown_may_come_from_another_thread() -> None:
    registry = StreamRegistry()
    with registry._opened() as ending:
        thread = threading.Thread(target=registry.cancel_all)
        thread.start()
        await asyncio.wait_for(ending, 1)
        thread.join()
