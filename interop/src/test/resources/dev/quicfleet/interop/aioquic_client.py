"""HTTP/3 GETs with aioquic (Debian trixie's python3-aioquic), for InteropIT's aioquic column.

    python3 aioquic_client.py PORT OUTDIR PATH... [--ticket-in F] [--ticket-out F] [--zero-rtt] [--chacha20]
                              [--v2] [--key-update] [--migrate] [--parallel]

Connects to 127.0.0.1:PORT (SNI localhost, no certificate check), GETs each PATH (one connection), writes body i to
OUTDIR/i and prints one JSON line with what happened (status per request, negotiated version, resumption, 0-RTT,
key update, migration). Exit status 0 even when a request failed: the caller reads the JSON.
"""
import argparse
import asyncio
import json
import os
import pickle
import socket
import ssl

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.packet import QuicProtocolVersion
from aioquic.tls import CipherSuite


class Client(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.pending = {}
        self.progress = None

    def quic_event_received(self, event):
        for e in self.h3.handle_event(event):
            entry = self.pending.get(getattr(e, "stream_id", None))
            if entry is None:
                continue
            if isinstance(e, HeadersReceived):
                entry["status"] = dict(e.headers).get(b":status", b"").decode()
            elif isinstance(e, DataReceived):
                entry["body"] += e.data
                if self.progress:
                    self.progress(len(entry["body"]))
            if getattr(e, "stream_ended", False) and not entry["done"].done():
                entry["done"].set_result(None)

    async def get(self, path):
        stream_id = self._quic.get_next_available_stream_id()
        entry = {"status": None, "body": bytearray(), "done": asyncio.get_running_loop().create_future()}
        self.pending[stream_id] = entry
        self.h3.send_headers(stream_id, [(b":method", b"GET"), (b":scheme", b"https"),
                                         (b":authority", b"localhost"), (b":path", path.encode())], end_stream=True)
        self.transmit()
        await asyncio.wait_for(entry["done"], 60)
        return entry


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("outdir")
    p.add_argument("paths", nargs="+")
    p.add_argument("--ticket-in")
    p.add_argument("--ticket-out")
    p.add_argument("--zero-rtt", action="store_true")
    p.add_argument("--chacha20", action="store_true")
    p.add_argument("--v2", action="store_true")
    p.add_argument("--key-update", action="store_true")
    p.add_argument("--migrate", action="store_true")
    p.add_argument("--parallel", action="store_true")
    a = p.parse_args()

    config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, verify_mode=ssl.CERT_NONE,
                               server_name="localhost", idle_timeout=20)
    if a.chacha20:
        config.cipher_suites = [CipherSuite.CHACHA20_POLY1305_SHA256]
    if a.v2:
        config.supported_versions = [QuicProtocolVersion.VERSION_2, QuicProtocolVersion.VERSION_1]
    if a.ticket_in:
        with open(a.ticket_in, "rb") as f:
            config.session_ticket = pickle.load(f)
    tickets = []
    result = {"requests": []}
    async with connect("127.0.0.1", a.port, configuration=config, create_protocol=Client,
                       session_ticket_handler=tickets.append, wait_connected=not a.zero_rtt) as client:
        quic = client._quic
        if a.migrate:
            moved = asyncio.get_running_loop().create_future()

            def progress(n):
                if n >= 1 << 20 and not moved.done():
                    moved.set_result(None)

            client.progress = progress
            download = asyncio.ensure_future(client.get(a.paths[0]))
            await asyncio.wait_for(moved, 30)
            before = client._transport.get_extra_info("sockname")
            client._transport.close()
            sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind(("::", 0))
            await asyncio.get_running_loop().create_datagram_endpoint(lambda: client, sock=sock)
            client.transmit()
            result["migrated"] = [before[1], sock.getsockname()[1]]
            entries = [await download]
        elif a.parallel:
            entries = await asyncio.gather(*[client.get(path) for path in a.paths])
        else:
            entries = []
            for i, path in enumerate(a.paths):
                entries.append(await client.get(path))
                if a.key_update and i == 0:
                    quic.request_key_update()
                    client.transmit()
                    result["key_update"] = True
        for i, entry in enumerate(entries):
            with open(os.path.join(a.outdir, str(i)), "wb") as f:
                f.write(entry["body"])
            result["requests"].append(entry["status"])
        result["version"] = hex(quic._version)
        result["resumed"] = bool(quic.tls.session_resumed)
        result["early_data_accepted"] = bool(quic.tls.early_data_accepted)
        if tickets:
            await asyncio.sleep(0)
    if not tickets:
        await asyncio.sleep(0)
    if a.ticket_out and tickets:
        with open(a.ticket_out, "wb") as f:
            pickle.dump(tickets[-1], f)
    result["tickets"] = len(tickets)
    print(json.dumps(result), flush=True)


asyncio.run(main())
