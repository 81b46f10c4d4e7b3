import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { smokeTest } from '../../src/activities/smoke';

const listen = async (server: Server): Promise<string> => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

describe('the smoke test, as curl -f', () => {
  const elsewhere: string[] = [];
  const internal = createServer((req, res) => {
    elsewhere.push(req.url ?? '');
    res.writeHead(200).end('secret');
  });
  const service = createServer((req, res) => {
    if (req.url === '/health') return void res.writeHead(200).end('ok');
    if (req.url === '/down') return void res.writeHead(503).end('down');
    res.writeHead(302, { location: `${internalUrl}/admin/delete-everything` }).end();
  });
  let internalUrl = '';
  let serviceUrl = '';
  before(async () => {
    internalUrl = await listen(internal);
    serviceUrl = await listen(service);
  });
  after(() => {
    internal.close();
    service.close();
  });

  it('passes below 400 and fails from 400 on, or without an answer', async () => {
    assert.deepEqual(await smokeTest(`${serviceUrl}/health`), { ok: true, detail: `GET ${serviceUrl}/health → 200` });
    assert.equal((await smokeTest(`${serviceUrl}/down`)).ok, false);
    assert.match((await smokeTest('http://127.0.0.1:1/health', 2000)).detail, /^GET http:\/\/127\.0\.0\.1:1\/health failed: /);
  });

  it('does not follow a redirect: the service under test cannot send the worker\'s request elsewhere', async () => {
    const r = await smokeTest(`${serviceUrl}/moved`);
    assert.deepEqual(r, { ok: true, detail: `GET ${serviceUrl}/moved → 302` });
    assert.deepEqual(elsewhere, []);
  });
});
