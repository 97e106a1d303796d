// Baseline for scenario 3: the cost of the password hash alone, in the same process layout as the
// server (an HTTP server in its own process, load from another): each POST reads the form and runs
// one argon2id verify with the parameters of src/lib/passwords.ts, then answers 303 or 401.
// Env: BENCH_PORT.
import { createServer } from 'node:http';
import { childFailed, childReady, distImport } from './lib/proc.mjs';

try {
  const { hashPassword, verifyPassword } = await distImport('src/lib/passwords.js');
  const hash = await hashPassword('bench-password-1');
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const ok = await verifyPassword(hash, form.get('password') ?? '');
      res.writeHead(ok ? 303 : 401, ok ? { location: '/account' } : {});
      res.end();
    });
  });
  const port = Number(process.env.BENCH_PORT);
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  childReady({ url: `http://127.0.0.1:${port}` }, () => new Promise((resolve) => server.close(() => resolve())));
} catch (err) {
  childFailed(err);
}
