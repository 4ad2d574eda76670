"""A WebSocket echo server with Debian's python3-websockets: the upstream the proxy tests put behind a worker.

Usage: ws_upstream.py; prints "listening PORT" (127.0.0.1, an ephemeral port), then one line per finished session:
"closed CODE" (the code the client's close frame carried, through the proxy). The text "close CODE REASON" makes it
close the session with that code.
"""
import asyncio

import websockets


async def echo(ws, path):
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
