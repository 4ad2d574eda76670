"""WebSocket over HTTP/1.1 with Debian's python3-websockets (an independent client) for WebSocketIT.

Usage: ws_client.py PORT MODE ...; prints one result line per check, read by the test.
  echo PATH TOTAL SIZE   send TOTAL random bytes in SIZE-byte binary messages while reading the echo;
                         prints "sent N SHA", "received N SHA", "closed CODE"
  close PATH CODE        the client closes with CODE; prints "closed CODE REASON" (what the server answered)
  server-close PATH CODE asks /ws/echo to close with CODE; prints "closed CODE REASON"
  toobig PATH SIZE       sends one SIZE-byte frame; prints "closed CODE"
  ping PATH              sends a ping; prints "pong" when the answer came
  keepalive PATH MS      answers the server's pings for MS milliseconds, then sends "hi"; prints "echo hi"
  upload PATH TOTAL      sends TOTAL random bytes in 16 KiB messages, "sent N" after each MiB, then the text "done";
                         prints the answer
  wait PATH              prints "connected", then "closed CODE REASON" once the server closes
  slow PATH              prints "connected", reads nothing until a line arrives on stdin, then reads to the end;
                         prints "received N SHA", "closed CODE"
"""
import asyncio
import hashlib
import os
import ssl
import sys

import websockets


def tls():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def code_of(e):
    return f"{e.rcvd.code} {e.rcvd.reason}".strip() if e.rcvd else "none"


async def echo(uri, total, size):
    async with websockets.connect(uri, ssl=tls(), max_size=None) as ws:
        sent = hashlib.sha256()
        received = hashlib.sha256()
        got = 0

        async def reader():
            nonlocal got
            while got < total:
                m = await ws.recv()
                received.update(m)
                got += len(m)

        task = asyncio.create_task(reader())
        left = total
        while left > 0:
            chunk = os.urandom(min(size, left))
            sent.update(chunk)
            await ws.send(chunk)
            left -= len(chunk)
        await task
        print("sent", total, sent.hexdigest())
        print("received", got, received.hexdigest())
        await ws.close(1000)
        print("closed", ws.close_code)


async def close(uri, code):
    async with websockets.connect(uri, ssl=tls()) as ws:
        await ws.close(code, "client bye")
        print(f"closed {ws.close_code} {ws.close_reason}".strip())


async def server_close(uri, code):
    async with websockets.connect(uri, ssl=tls()) as ws:
        await ws.send(f"close {code} server bye")
        try:
            await ws.recv()
            print("closed none")
        except websockets.ConnectionClosed as e:
            print("closed", code_of(e))


async def toobig(uri, size):
    async with websockets.connect(uri, ssl=tls()) as ws:
        await ws.send(os.urandom(size))
        try:
            await ws.recv()
            print("closed none")
        except websockets.ConnectionClosed as e:
            print("closed", code_of(e))


async def ping(uri):
    async with websockets.connect(uri, ssl=tls(), ping_interval=None) as ws:
        await asyncio.wait_for(await ws.ping(b"are you there"), 10)
        print("pong")


async def keepalive(uri, millis):
    # websockets answers pings on its own while it reads; this client sends none of its own
    async with websockets.connect(uri, ssl=tls(), ping_interval=None) as ws:
        try:
            await asyncio.wait_for(ws.recv(), millis / 1000)
            print("unexpected message")
        except asyncio.TimeoutError:
            pass
        await ws.send("hi")
        print("echo", await ws.recv())


async def upload(uri, total):
    # compression off: random bytes do not shrink, but the bytes on the wire should be the bytes counted
    async with websockets.connect(uri, ssl=tls(), compression=None) as ws:
        print("connected", flush=True)
        sent = 0
        while sent < total:
            n = min(16384, total - sent)
            await ws.send(os.urandom(n))  # waits while the connection's write buffer is full
            sent += n
            if sent % (1 << 20) == 0:
                print("sent", sent, flush=True)
        await ws.send("done")
        print(await ws.recv(), flush=True)


async def wait(uri):
    async with websockets.connect(uri, ssl=tls()) as ws:
        print("connected", flush=True)
        try:
            await ws.recv()
            print("message")
        except websockets.ConnectionClosed as e:
            print("closed", code_of(e))


async def slow(uri):
    # max_queue=1 and a small read limit: the client's own buffers stay small, so the server meets the backpressure
    async with websockets.connect(uri, ssl=tls(), max_queue=1, read_limit=4096, max_size=None) as ws:
        print("connected", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        digest = hashlib.sha256()
        got = 0
        try:
            while True:
                m = await ws.recv()
                digest.update(m)
                got += len(m)
        except websockets.ConnectionClosed as e:
            print("received", got, digest.hexdigest())
            print("closed", code_of(e))


def main():
    port, mode, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    uri = f"wss://localhost:{port}{path}"
    args = [int(a) for a in sys.argv[4:]]
    run = {"echo": echo, "close": close, "server-close": server_close, "toobig": toobig, "slow": slow,
           "ping": ping, "keepalive": keepalive,
           "upload": upload, "wait": wait}[mode]
    asyncio.run(run(uri, *args))


if __name__ == "__main__":
    main()
