// An extended CONNECT (RFC 8441) sent although the server's SETTINGS did not enable it, with Node's own http2 module
// (which sends what it is given; its nghttp2 does not hold :protocol back), for WebSocketOffIT.
//
// Usage: node ws_h2_refused.mjs PORT PATH; prints, one per line:
//   "enableConnectProtocol BOOL"  from the server's SETTINGS (false when absent)
//   "connect reset CODE"          the extended CONNECT's stream was reset with CODE (or "connect status S")
//   "get status S"                a plain GET of / on the same connection afterwards
import http2 from 'node:http2';

const [port, path] = process.argv.slice(2);
const session = http2.connect(`https://localhost:${port}`, { rejectUnauthorized: false });
session.on('error', e => { console.log('error', e.message); process.exit(2); });

session.once('remoteSettings', settings => {
  console.log('enableConnectProtocol', settings.enableConnectProtocol === true);
  const connect = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':path': path,
    ':scheme': 'https', ':authority': `localhost:${port}`, 'sec-websocket-version': '13' }, { endStream: false });
  let answered = false;
  connect.on('response', headers => {
    answered = true;
    console.log('connect status', headers[':status']);
    connect.close(http2.constants.NGHTTP2_CANCEL); // accepted: not what the test wants, but it ends here
  });
  connect.on('error', () => { }); // the reset; its code is read on close
  connect.on('close', () => {
    if (!answered) console.log('connect reset', connect.rstCode);
    const get = session.request({ ':path': '/' });
    get.on('response', headers => console.log('get status', headers[':status']));
    get.resume();
    get.on('end', () => session.close());
    get.end();
  });
});
