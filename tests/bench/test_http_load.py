"""The HTTP load generator's alternation: two servers take the same requests in slices, A B B A."""

import asyncio

from lbs_bench.http_load import alternating_closed_loops


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
