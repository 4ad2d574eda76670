"""A WebSocket echo server with Debian's python3-websockets: the upstream the proxy tests put behind a worker.

Usage: ws_upstream.py; prints "listening PORT" (127.0.0.1, an ephemeral port), then one line per finished session:
"closed CODE" (the code the client's close frame carried, through the proxy). The text "close CODE REASON" makes it
close the session with that code. A session on /flood?bytes=N gets N bytes in 16 KiB messages instead, sent as fast
as the connection takes them, with a line "sent BYTES" after each 1 MiB; then it closes with 1000.
"""
import asyncio
import os

import websockets


async def flood(ws, total):
    sent = 0
    while sent < total:
        n = min(16384, total - sent)
        # random bytes: the client and this server agree on permessage-deflate through the proxy, and a
        # compressible flood would be a few KiB on the wire
        await ws.send(os.urandom(n))  # waits while the connection's buffer is over its high-water mark
        sent += n
        if sent % (1 << 20) == 0 or sent == total:
            print("sent", sent, flush=True)
    await ws.close(1000, "flood done")


async def echo(ws, path):
    if path.startswith("/flood?bytes="):
        await flood(ws, int(path.split("=", 1)[1]))
        return
    try:
        async for m in ws:
            if isinstance(m, str) and m.startswith("close "):
                parts = m.split(" ", 2)
                await ws.close(int(parts[1]), parts[2] if len(parts) > 2 else "")
                return
            await ws.send(m)
    finally:
        print("closed", ws.close_code, flush=True)


async def main():
    async with websockets.serve(echo, "127.0.0.1", 0, max_size=None) as server:
        print("listening", server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()


asyncio.run(main())
