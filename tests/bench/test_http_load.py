"""The HTTP load generator: two servers take the same requests in slices, A B B A; a paced run
answers every request, fails when one fails outright, and gives the client's collector back."""

import asyncio
import gc

import pytest

from lbs_bench.http_load import alternating_closed_loops, open_loop


async def _server(name: str, log: list[tuple[str, str]]) -> asyncio.Server:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                log.append((name, head.split(b" ", 2)[1].decode()))
                status = b"200 OK" if not head.split(b" ", 2)[1].endswith(b"bad") else b"500 Oops"
                writer.write(b"HTTP/1.1 " + status + b"\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0)


async def test_two_servers_take_the_same_requests_in_abba_slices():
    log: list[tuple[str, str]] = []
    first, second = await _server("A", log), await _server("B", log)
    ports = {"A": first.sockets[0].getsockname()[1], "B": second.sockets[0].getsockname()[1]}
    paths = [f"/p{n}" for n in range(11)] + ["/bad"]
    async with first, second:
        results = await alternating_closed_loops("127.0.0.1", ports, paths, 1, 4)
    order = [name for n, (name, _) in enumerate(log) if n == 0 or log[n - 1][0] != name]
    assert order == ["A", "B", "A", "B", "A"]  # slices A B, B A, A B, B A: each middle pair runs back to back
    for name in ("A", "B"):
        assert [path for who, path in log if who == name] == paths  # every request, once, in order
        assert results[name].requests == len(paths) and results[name].errors == 1
        assert results[name].rps > 0 and results[name].seconds > 0


async def test_a_paced_run_answers_every_request_with_the_client_s_collector_given_back():
    log: list[tuple[str, str]] = []
    server = await _server("A", log)
    port = server.sockets[0].getsockname()[1]
    paths = [f"/p{n}" for n in range(40)] + ["/bad"]
    async with server:
        result = await open_loop("127.0.0.1", port, paths, 400.0, 4)
    assert result.requests == 41 and result.errors == 1 and sorted(p for _, p in log) == sorted(paths)
    assert gc.isenabled()


async def test_a_request_that_fails_outright_fails_the_paced_run_and_the_collector_is_back():
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()  # no answer at all

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    async with server:
        with pytest.raises(asyncio.IncompleteReadError):
            await open_loop("127.0.0.1", server.sockets[0].getsockname()[1], ["/a"], 100.0, 1)
    assert gc.isenabled()
