// connect-proxy.mjs - a small egress proxy for tests: it answers only
// CONNECT (anything else gets 405), records each CONNECT target and its
// Proxy-Authorization header, and keeps every byte the client sent through
// the tunnel, so a test can show the proxy saw only ciphertext.
import http from 'node:http';
import net from 'node:net';

export class ConnectProxy {
  constructor() {
    this.connects = []; // { target, auth }
    this.plain = 0;     // non-CONNECT requests (a proxy used for plain forwarding)
    this.tunnelled = [];
    this.sockets = new Set();
    this.server = http.createServer((req, res) => { this.plain++; res.writeHead(405); res.end(); });
    this.server.on('connect', (req, client, head) => {
      this.connects.push({ target: req.url, auth: req.headers['proxy-authorization'] ?? null });
      const [host, port] = [req.url.slice(0, req.url.lastIndexOf(':')), Number(req.url.slice(req.url.lastIndexOf(':') + 1))];
      const up = net.connect(port, host.replace(/^\[|\]$/g, ''), () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length) { this.tunnelled.push(head); up.write(head); }
        client.on('data', (d) => this.tunnelled.push(Buffer.from(d)));
        client.pipe(up);
        up.pipe(client);
      });
      for (const s of [client, up]) { this.sockets.add(s); s.on('close', () => this.sockets.delete(s)); }
      up.on('error', () => client.destroy());
      client.on('error', () => up.destroy());
    });
  }

  async start() {
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = this.server.address().port;
    this.url = `http://127.0.0.1:${this.port}`;
    return this;
  }

  // Everything the client sent through the tunnels, as one buffer.
  bytes() { return Buffer.concat(this.tunnelled); }

  async stop() {
    for (const s of this.sockets) s.destroy();
    this.server.closeAllConnections?.();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
