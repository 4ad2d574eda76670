// WebSocket over HTTP/2 (RFC 8441 extended CONNECT) with Node's own http2 module, an independent client, for
// WebSocketIT. Node sends :protocol only once the server's SETTINGS enabled it. Frames are written by hand (masked).
//
// Usage: node ws_h2_client.mjs PORT MODE PATH ...; prints result lines like ws_client.py:
//   echo PATH TOTAL SIZE   "sent N SHA", "received N SHA", "closed CODE"
//   close PATH CODE        "closed CODE REASON"
//   server-close PATH CODE "closed CODE REASON"
//   toobig PATH SIZE       "closed CODE REASON"
//   idle PATH              sends nothing and answers no ping: "closed CODE REASON" once the server closes
//   slow PATH              "connected", reads nothing until a line arrives on stdin, then reads to the end:
//                          "received N SHA", "closed CODE REASON"
//   plain PATH             prints "status S" for a GET (no :protocol)
import http2 from 'node:http2';
import crypto from 'node:crypto';

const [port, mode, path, ...rest] = process.argv.slice(2);
const args = rest.map(Number);

function frame(opcode, payload) {
  const len = payload.length;
  const header = len > 65535 ? 10 : len > 125 ? 4 : 2;
  const out = Buffer.alloc(header + 4 + len);
  out[0] = 0x80 | opcode;
  if (len > 65535) { out[1] = 0x80 | 127; out.writeBigUInt64BE(BigInt(len), 2); }
  else if (len > 125) { out[1] = 0x80 | 126; out.writeUInt16BE(len, 2); }
  else { out[1] = 0x80 | len; }
  const mask = crypto.randomBytes(4);
  mask.copy(out, header);
  for (let i = 0; i < len; i++) out[header + 4 + i] = payload[i] ^ mask[i & 3];
  return out;
}

function closePayload(code, reason) {
  const r = Buffer.from(reason, 'utf8');
  const b = Buffer.alloc(2 + r.length);
  b.writeUInt16BE(code, 0);
  r.copy(b, 2);
  return b;
}

// Parses unmasked server frames; calls onMessage(opcode, payload) per complete message, onClose(code, reason).
function reader(onMessage, onClose) {
  let buf = Buffer.alloc(0);
  let parts = [];
  let opcode = -1;
  return chunk => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length < 2) return;
      let len = buf[1] & 0x7f;
      let header = 2;
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); header = 4; }
      else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); header = 10; }
      if (buf.length < header + len) return;
      const fin = (buf[0] & 0x80) !== 0;
      const op = buf[0] & 0x0f;
      const payload = buf.subarray(header, header + len);
      buf = buf.subarray(header + len);
      if (op === 8) {
        onClose(payload.length >= 2 ? payload.readUInt16BE(0) : 1005, payload.subarray(2).toString('utf8'));
      } else if (op === 9 || op === 10) {
        // ping/pong: not used by these checks
      } else {
        if (op !== 0) opcode = op;
        parts.push(Buffer.from(payload));
        if (fin) { onMessage(opcode, Buffer.concat(parts)); parts = []; opcode = -1; }
      }
    }
  };
}

const session = http2.connect(`https://localhost:${port}`, { rejectUnauthorized: false });
session.on('error', e => { console.log('error', e.message); process.exit(2); });

function open(onOpen) {
  session.once('remoteSettings', settings => {
    if (!settings.enableConnectProtocol) { console.log('error server did not enable the connect protocol'); process.exit(2); }
    const stream = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':path': path,
      ':scheme': 'https', ':authority': `localhost:${port}`, 'sec-websocket-version': '13' }, { endStream: false });
    stream.on('response', headers => {
      if (headers[':status'] !== 200) { console.log('status', headers[':status']); process.exit(1); }
      onOpen(stream);
    });
    stream.on('error', e => { console.log('error', e.message); process.exit(2); });
  });
}

function finish(code, reason, stream) {
  console.log(`closed ${code} ${reason}`.trim());
  stream.end();
  session.close();
}

if (mode === 'plain') {
  const stream = session.request({ ':path': path });
  stream.on('response', h => { console.log('status', h[':status']); stream.resume(); stream.on('end', () => session.close()); });
} else if (mode === 'echo') {
  const [total, size] = args;
  open(stream => {
    const sent = crypto.createHash('sha256');
    const received = crypto.createHash('sha256');
    let got = 0;
    stream.on('data', reader((op, payload) => {
      received.update(payload);
      got += payload.length;
      if (got >= total) {
        console.log('sent', total, sentDigest);
        console.log('received', got, received.digest('hex'));
        stream.write(frame(8, closePayload(1000, '')));
      }
    }, (code, reason) => finish(code, reason, stream)));
    let left = total;
    let sentDigest;
    const pump = () => {
      while (left > 0) {
        const chunk = crypto.randomBytes(Math.min(size, left));
        sent.update(chunk);
        left -= chunk.length;
        if (left === 0) sentDigest = sent.digest('hex');
        if (!stream.write(frame(2, chunk))) { stream.once('drain', pump); return; }
      }
    };
    pump();
  });
} else if (mode === 'slow') {
  open(stream => {
    stream.pause(); // nothing consumed: Node stops opening the stream's flow-control window
    console.log('connected');
    process.stdin.once('data', () => {
      process.stdin.destroy();
      const digest = crypto.createHash('sha256');
      let got = 0;
      stream.on('data', reader((op, payload) => { digest.update(payload); got += payload.length; }, (code, reason) => {
        console.log('received', got, digest.digest('hex'));
        finish(code, reason, stream);
      }));
      stream.resume(); // a 'data' listener does not undo an explicit pause()
    });
  });
} else if (mode === 'idle') {
  open(stream => stream.on('data', reader(() => {}, (code, reason) => finish(code, reason, stream))));
} else if (mode === 'close' || mode === 'server-close' || mode === 'toobig') {
  open(stream => {
    stream.on('data', reader(() => {}, (code, reason) => finish(code, reason, stream)));
    if (mode === 'close') stream.write(frame(8, closePayload(args[0], 'client bye')));
    else if (mode === 'server-close') stream.write(frame(1, Buffer.from(`close ${args[0]} server bye`)));
    else stream.write(frame(2, crypto.randomBytes(args[0])));
  });
} else {
  console.log('error unknown mode', mode);
  process.exit(2);
}
