#!/usr/bin/env python3
"""A wide-area link in front of the benchmark's S3 server, on 127.0.0.1.

    python3 benchmarks/wan.py --upstream 127.0.0.1:8333 [--delay-ms 30]
        [--rate-mbit 400]

The kernel here has no ``netem``, so the link is emulated in user space, in
a process of its own whose CPU the harness measures (so it can be shown not
to be the limit). Every byte the client receives arrives ``--delay-ms``
after the proxy read it (a one-way delay on the response path, so each
request's first byte and each round of a TLS handshake cost one delay more,
as over a real route), and no faster than ``--rate-mbit`` per connection (a
token bucket per connection, as a per-flow shaper does). It forwards bytes
and never parses them: HTTPS is the server's own (SeaweedFS's
``-s3.port.https``), so the handshake crosses the delayed link as on the
internet, and the proxy spends no CPU on TLS.

Prints ``listening <port>`` once it accepts connections; SIGTERM ends it.
"""
import argparse
import asyncio
import sys
import time

# The most bytes read or written at once (asyncio's own most per recv): the
# link's CPU goes mostly to Python per chunk, so large chunks keep it small
# (1 GiB through a 30 ms, 400 Mbit/s link: 1.0 CPU-s with 256 KiB chunks,
# 1.1-1.6 CPU-s with 64 KiB). A chunk leaves in one burst: 5 ms at 400
# Mbit/s, as a shaper's burst allowance lets out.
CHUNK = 256 * 1024
# Chunks a connection may hold while the shaper or the delay holds them back:
# enough for a delay-bandwidth product of 80 ms at 400 Mbit/s (4 MB).
HELD_CHUNKS = 24


async def _pump(reader, writer):
    """Client to server: forwarded at once (the delay is on the way back)."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        _close(writer)


async def _delayed_pump(reader, writer, delay, rate):
    """Server to client: each chunk leaves ``delay`` after it arrived, and
    a connection's chunks leave no faster than ``rate`` bytes per second."""
    held = asyncio.Queue(HELD_CHUNKS)

    async def read():
        try:
            while data := await reader.read(CHUNK):
                await held.put((time.monotonic() + delay, data))
        except ConnectionError:
            pass
        await held.put((None, b''))

    async def write():
        free_at = 0.0
        try:
            while True:
                due, data = await held.get()
                if due is None:
                    break
                send_at = max(due, free_at)
                wait = send_at - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
                if rate:
                    free_at = send_at + len(data) / rate
        except ConnectionError:
            pass
        finally:
            _close(writer)

    await asyncio.gather(read(), write())


def _close(writer):
    if not writer.is_closing():
        writer.close()


def _handler(host, port, delay, rate):
    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(
                host, port, limit=CHUNK)
        except OSError:
            _close(client_writer)
            return
        await asyncio.gather(
            _pump(client_reader, server_writer),
            _delayed_pump(server_reader, client_writer, delay, rate))
    return handle


async def serve(args):
    host, port = args.upstream.rsplit(':', 1)
    port = int(port)
    delay = args.delay_ms / 1000.0
    rate = args.rate_mbit * 1e6 / 8 if args.rate_mbit else 0
    link = await asyncio.start_server(
        _handler(host, port, delay, rate), '127.0.0.1', args.port,
        limit=CHUNK)
    print('listening %d' % link.sockets[0].getsockname()[1], flush=True)
    # SIGTERM's default action ends it: it holds nothing to clean up.
    await link.serve_forever()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--upstream', required=True, help='HOST:PORT')
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--delay-ms', type=float, default=0.0)
    parser.add_argument('--rate-mbit', type=float, default=0.0,
                        help='per connection; 0 for no limit')
    args = parser.parse_args(argv)
    asyncio.run(serve(args))


if __name__ == '__main__':
    sys.exit(main())
