/**
 * The `test/echo` image (run by Node's type stripping): HTTP on the pod IP with /ready, /live,
 * /unready, /env, /argv and /file?path=, plus UDP and TCP echo that prefix answers with the pod name.
 * Env: POD_NAME, POD_IP, HTTP_PORT (8080), ECHO_PORT (5060), MARKER_DIR (a `<pod>.sigterm` file is
 * written there on SIGTERM), READY_FILE (when set, ready only while that file exists).
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

const name = process.env.POD_NAME ?? 'unknown';
const host = process.env.POD_IP ?? '127.0.0.1';
const httpPort = Number(process.env.HTTP_PORT ?? 8080);
const echoPort = Number(process.env.ECHO_PORT ?? 5060);
let ready = true;

function isReady(): boolean {
  const flag = process.env.READY_FILE;
  return ready && (flag === undefined || fs.existsSync(flag));
}

function readFile(url: string): { code: number; body: string | Buffer } {
  const file = new URL(url, 'http://x').searchParams.get('path') ?? '';
  try {
    return { code: 200, body: fs.readFileSync(file) };
  } catch (err) {
    return { code: 404, body: String(err) };
  }
}

function answer(url: string): { code: number; body: string | Buffer } {
  if (url === '/ready') return isReady() ? { code: 200, body: 'ready' } : { code: 503, body: 'not ready' };
  if (url === '/live') return { code: 200, body: 'live' };
  if (url === '/unready') {
    ready = false;
    return { code: 200, body: 'ok' };
  }
  if (url === '/env') return { code: 200, body: JSON.stringify(process.env) };
  if (url === '/argv') return { code: 200, body: JSON.stringify(process.argv.slice(2)) };
  if (url.startsWith('/file?')) return readFile(url);
  return { code: 200, body: name };
}

const server = http.createServer((req, res) => {
  const { code, body } = answer(req.url ?? '/');
  res.writeHead(code).end(body);
});
server.listen(httpPort, host);

const udp = dgram.createSocket('udp4');
udp.on('message', (msg, rinfo) => udp.send(`${name}:${msg.toString()}`, rinfo.port, rinfo.address));
udp.bind(echoPort, host);

const tcp = net.createServer((sock) => sock.on('data', (d) => sock.write(`${name}:${d.toString()}`)));
tcp.listen(echoPort, host);

console.log(`echo ${name} on ${host} http ${httpPort} echo ${echoPort}`);

process.on('SIGTERM', () => {
  console.log(`SIGTERM ${name}`);
  const dir = process.env.MARKER_DIR;
  if (dir !== undefined) fs.writeFileSync(path.join(dir, `${name}.sigterm`), String(Date.now()));
  server.close();
  udp.close();
  tcp.close();
  setTimeout(() => process.exit(0), 10);
});
