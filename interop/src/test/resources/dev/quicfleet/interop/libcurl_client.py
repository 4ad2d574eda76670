"""HTTP/3 GETs with libcurl's ngtcp2 build (Debian trixie's python3-pycurl links libcurl3t64-gnutls: libcurl 8.14,
ngtcp2 1.11, GnuTLS), for InteropIT's "curl (ngtcp2)" column. (The curl command of trixie uses OpenSSL's own QUIC
stack instead.)

    python3 libcurl_client.py PORT OUTDIR PATH... [--fresh] [--early] [--chacha20] [--parallel]

GETs each PATH from https://localhost:PORT (resolved to 127.0.0.1, no certificate check) with one easy handle, so
libcurl reuses its connection unless --fresh (then each request gets a new connection, resuming the TLS session of the
one before; --early sends the request in 0-RTT). --parallel runs the requests at once on one multi handle (HTTP/3
multiplexing). Writes body i to OUTDIR/i and prints one JSON line: status, HTTP version and TLS early-data bytes per
request. Exit status 0 even when a request failed: the caller reads the JSON.
"""
import argparse
import json
import os

import pycurl

HTTP_VERSION_3ONLY = 31
SSLOPT_EARLYDATA = 1 << 6


def setup(handle, a, path, out):
    handle.setopt(pycurl.URL, "https://localhost:%d%s" % (a.port, path))
    handle.setopt(pycurl.RESOLVE, ["localhost:%d:127.0.0.1" % a.port])
    handle.setopt(pycurl.HTTP_VERSION, HTTP_VERSION_3ONLY)
    handle.setopt(pycurl.SSL_VERIFYPEER, 0)
    handle.setopt(pycurl.SSL_VERIFYHOST, 0)
    handle.setopt(pycurl.TIMEOUT, 60)
    if a.early:
        handle.setopt(pycurl.SSL_OPTIONS, SSLOPT_EARLYDATA)
    if a.fresh:
        handle.setopt(pycurl.FRESH_CONNECT, 1)
    if a.chacha20:
        # appended to libcurl's own GnuTLS priority string for QUIC (a full priority string there breaks the handshake)
        handle.setopt(pycurl.SSL_CIPHER_LIST, "-AES-128-GCM:-AES-256-GCM:-AES-128-CCM")
    handle.setopt(pycurl.WRITEDATA, out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("outdir")
    p.add_argument("paths", nargs="+")
    p.add_argument("--fresh", action="store_true")
    p.add_argument("--early", action="store_true")
    p.add_argument("--chacha20", action="store_true")
    p.add_argument("--parallel", action="store_true")
    a = p.parse_args()
    results = []
    if a.parallel:
        multi = pycurl.CurlMulti()
        multi.setopt(pycurl.M_PIPELINING, 2)  # CURLPIPE_MULTIPLEX
        handles = []
        for i, path in enumerate(a.paths):
            handle = pycurl.Curl()
            out = open(os.path.join(a.outdir, str(i)), "wb")
            setup(handle, a, path, out)
            handle.setopt(pycurl.PIPEWAIT, 1)
            multi.add_handle(handle)
            handles.append((handle, out))
        while True:
            status, running = multi.perform()
            if running == 0:
                break
            multi.select(1.0)
        for handle, out in handles:
            out.close()
            results.append({"status": handle.getinfo(pycurl.RESPONSE_CODE),
                            "http_version": handle.getinfo(pycurl.INFO_HTTP_VERSION)})
    else:
        handle = pycurl.Curl()
        for i, path in enumerate(a.paths):
            with open(os.path.join(a.outdir, str(i)), "wb") as out:
                setup(handle, a, path, out)
                try:
                    handle.perform()
                    results.append({"status": handle.getinfo(pycurl.RESPONSE_CODE),
                                    "http_version": handle.getinfo(pycurl.INFO_HTTP_VERSION)})
                except pycurl.error as e:
                    results.append({"error": str(e)})
    print(json.dumps({"requests": results}), flush=True)


main()
