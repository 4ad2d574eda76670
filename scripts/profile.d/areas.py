#!/usr/bin/env python3
"""CPU samples of a JFR recording by area: python3 areas.py FILE.jfr [requests]"""
import subprocess, sys, re, collections
f = sys.argv[1]
requests = float(sys.argv[2]) if len(sys.argv) > 2 else None
out = subprocess.run(['jfr', 'print', '--events', 'jdk.ExecutionSample,jdk.NativeMethodSample', '--stack-depth', '96', f],
                     capture_output=True, text=True).stdout
events = out.split('\njdk.')
AREAS = [
    ('virtual threads / FJP', r'java\.util\.concurrent\.ForkJoin|java\.lang\.VirtualThread|jdk\.internal\.vm\.Continuation|LockSupport|ReentrantLock|AbstractQueuedSynchronizer'),
    ('static files', r'dev\.quicfleet\.worker\.StaticFiles|sun\.nio\.fs|sun\.nio\.ch\.FileChannelImpl|java\.nio\.file'),
    ('exchange core', r'dev\.quicfleet\.worker\.(Exchange|ExchangeDispatcher|RequestBody|Http3Exchange|Http3RequestStreamHandler|HttpDates)|dev\.quicfleet\.http\.'),
    ('quicfleet datagram handlers', r'dev\.quicfleet\.(worker\.(UnknownConnections|VersionNegotiation|MalformedDatagrams|NatRebinding|EarlyData|QuicKeys|QuicConnections)|transport\.)'),
    ('quiche (JNI)', r'io\.netty\.handler\.codec\.quic\.Quiche\.'),
    ('netty http3 codec', r'io\.netty\.handler\.codec\.http3\.'),
    ('netty quic channel', r'io\.netty\.handler\.codec\.quic\.'),
    ('udp syscalls / io_uring', r'io\.netty\.channel\.(uring|epoll)\.|sun\.nio\.ch\.DatagramChannelImpl'),
    ('netty pipeline / buffers', r'io\.netty\.(channel|buffer|util)\.'),
    ('logging / metrics', r'ch\.qos\.logback|org\.slf4j|io\.micrometer|dev\.quicfleet\.metrics'),
]
count = collections.Counter()
threads = collections.Counter()
total = 0
for e in events:
    if 'stackTrace' not in e:
        continue
    m = re.search(r'sampledThread = "([^"]*)"', e)
    tname = m.group(1) if m else '?'
    frames = re.findall(r'^\s+([\w.$<>]+)\(', e, re.M)
    if not frames:
        continue
    total += 1
    threads[re.sub(r'\d+', 'N', tname)] += 1
    area = 'other (JDK, GC barriers...)'
    # the first frame from the leaf that is not a JDK or Netty utility/buffer frame says where the time went
    frames = [fr for fr in frames if not re.match(r'(java|jdk|sun)\.|io\.netty\.(util|buffer)\.', fr)] or frames
    for fr in frames:  # leaf first
        for name, rx in AREAS:
            if re.match(rx, fr):
                area = name
                break
        else:
            continue
        break
    count[area] += 1
print(f'{total} samples')
for a, n in count.most_common():
    line = f'  {a:32s} {100.0*n/total:5.1f}%'
    print(line)
print('threads:', ', '.join(f'{t} {100.0*n/total:.0f}%' for t, n in threads.most_common(6)))
