import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { codecServerFlags, defaultOrigins } from '../../src/cli/commands/codec-server';
import { parseFlags } from '../../src/cli/flags';
import { AesGcmCodec, codecKeysFromEnv, dataConverterFromEnv, keyFingerprint } from '../../src/connection/codec';
import { codecServer } from '../../src/connection/codec-server';
import { tempDir } from '../helpers/fixtures';

/*
 * Issue 13 §5: workflow payloads (the release's input, results, heartbeats, failures) were plain to
 * anyone who can read the namespace. The codec encrypts them with AES-256-GCM under a key id.
 */

const key = (id: string) => ({ id, key: randomBytes(32) });
const plain = (value: unknown): Payload => defaultPayloadConverter.toPayload(value);
const read = (p: Payload) => defaultPayloadConverter.fromPayload(p);
const meta = (p: Payload, k: string) => new TextDecoder().decode(p.metadata?.[k] ?? new Uint8Array());

describe('the AES-256-GCM payload codec', () => {
  const k1 = key('k1');
  const k2 = key('k2');
  const secretInput = { service: 'payments', repo: '/srv/checkouts/payments', reason: 'deploy to production broke' };

  it('round-trips payloads; the encoded form names its key and holds no plaintext', async () => {
    const codec = new AesGcmCodec([k1]);
    const [enc] = await codec.encode([plain(secretInput)]);
    assert.equal(meta(enc!, 'encoding'), 'binary/encrypted');
    assert.equal(meta(enc!, 'encryption-key-id'), 'k1');
    const wire = Buffer.from(enc!.data!).toString('latin1');
    for (const word of ['payments', 'checkouts', 'broke', 'json/plain']) assert.ok(!wire.includes(word), word);
    const [dec] = await codec.decode([enc!]);
    assert.deepEqual(read(dec!), secretInput);
    // A fresh nonce each time: the same value never encrypts the same way twice.
    const [again] = await codec.encode([plain(secretInput)]);
    assert.notDeepEqual(Buffer.from(again!.data!), Buffer.from(enc!.data!));
  });

  it('a tampered payload is refused, never decoded to something else', async () => {
    const codec = new AesGcmCodec([k1]);
    const [enc] = await codec.encode([plain(secretInput)]);
    for (const at of [0, 13, enc!.data!.length - 1]) {
      const data = Buffer.from(enc!.data!);
      data[at]! ^= 0x01;
      await assert.rejects(codec.decode([{ ...enc!, data }]), /payload encrypted with key id "k1" does not decrypt: it was altered/);
    }
    await assert.rejects(codec.decode([{ ...enc!, data: Buffer.alloc(10) }]), /too short/);
  });

  it('an unknown key id is a clear error naming it and the keys this process has', async () => {
    const [enc] = await new AesGcmCodec([k2]).encode([plain(1)]);
    await assert.rejects(new AesGcmCodec([k1]).decode([enc!]), /encrypted with key id "k2", which is not among this process's codec keys \(k1\): add it to ROLLGATE_CODEC_KEYS/);
    const noId = { ...enc!, metadata: { encoding: enc!.metadata!.encoding! } };
    await assert.rejects(new AesGcmCodec([k2]).decode([noId]), /has no encryption-key-id/);
  });

  it('rotation: the first key encrypts, every key decrypts', async () => {
    const [old] = await new AesGcmCodec([k1]).encode([plain('written under k1')]);
    const rotated = new AesGcmCodec([k2, k1]);
    assert.equal(read((await rotated.decode([old!]))[0]!), 'written under k1');
    const [fresh] = await rotated.encode([plain('written under k2')]);
    assert.equal(meta(fresh!, 'encryption-key-id'), 'k2');
    await assert.rejects(new AesGcmCodec([k1]).decode([fresh!]), /key id "k2"/);
  });

  it('payloads written before a key was set pass as they are', async () => {
    const p = plain({ a: 1 });
    assert.deepEqual(await new AesGcmCodec([k1]).decode([p]), [p]);
  });
});

describe('codec keys from the environment', () => {
  const b64 = (k: Buffer) => k.toString('base64');
  const a = randomBytes(32);
  const b = randomBytes(32);

  it('none: no codec, and the data converter stays the SDK default (nothing changes)', () => {
    assert.deepEqual(codecKeysFromEnv({}), []);
    assert.equal(dataConverterFromEnv({}), undefined);
  });

  it('one key, with its fingerprint as id unless ROLLGATE_CODEC_KEY_ID names it', () => {
    assert.deepEqual(codecKeysFromEnv({ ROLLGATE_CODEC_KEY: b64(a) }), [{ id: keyFingerprint(a), key: a }]);
    assert.match(keyFingerprint(a), /^k-[0-9a-f]{12}$/);
    assert.deepEqual(codecKeysFromEnv({ ROLLGATE_CODEC_KEY: b64(a), ROLLGATE_CODEC_KEY_ID: '2026-11' }), [{ id: '2026-11', key: a }]);
  });

  it('a list for rotation, from a file too', () => {
    const dir = tempDir('rollgate-codec-keys-');
    writeFileSync(join(dir, 'keys'), `new:${b64(b)}\nold:${b64(a)}\n`);
    assert.deepEqual(codecKeysFromEnv({ ROLLGATE_CODEC_KEYS_FILE: join(dir, 'keys') }), [
      { id: 'new', key: b },
      { id: 'old', key: a },
    ]);
    writeFileSync(join(dir, 'key'), `${b64(a)}\n`);
    assert.deepEqual(codecKeysFromEnv({ ROLLGATE_CODEC_KEY_FILE: join(dir, 'key'), ROLLGATE_CODEC_KEY_ID: 'x' }), [{ id: 'x', key: a }]);
    const dc = dataConverterFromEnv({ ROLLGATE_CODEC_KEYS: `new:${b64(b)}` });
    assert.equal(dc?.payloadCodecs?.length, 1);
    assert.match(dc?.failureConverterPath ?? '', /failure-converter/);
  });

  for (const [name, env, message] of [
    ['a short key', { ROLLGATE_CODEC_KEY: b64(randomBytes(16)) }, /^ROLLGATE_CODEC_KEY: must be a 32-byte key in base64/],
    ['a key that is not base64', { ROLLGATE_CODEC_KEY: 'not base64 at all, but long enough to be 32 bytes!' }, /^ROLLGATE_CODEC_KEY: must be a 32-byte key in base64/],
    ['both variables', { ROLLGATE_CODEC_KEY: b64(a), ROLLGATE_CODEC_KEYS: `x:${b64(b)}` }, /^ROLLGATE_CODEC_KEY and ROLLGATE_CODEC_KEYS are both set/],
    ['an entry without an id', { ROLLGATE_CODEC_KEYS: b64(a) }, /^ROLLGATE_CODEC_KEYS: entry 1 must be id:base64-key/],
    ['an id used twice', { ROLLGATE_CODEC_KEYS: `x:${b64(a)},x:${b64(b)}` }, /^ROLLGATE_CODEC_KEYS: key id "x" is given twice/],
    ['a bad key in the list', { ROLLGATE_CODEC_KEYS: `x:${b64(a)},y:short` }, /^ROLLGATE_CODEC_KEYS: key "y": must be a 32-byte key/],
    ['a bad key id', { ROLLGATE_CODEC_KEY: b64(a), ROLLGATE_CODEC_KEY_ID: 'a b' }, /^ROLLGATE_CODEC_KEY_ID: must be 1-64/],
  ] as const)
    it(`refuses ${name}, naming the variable`, () => assert.throws(() => codecKeysFromEnv(env), { message }));
});

describe('the codec endpoint for the Temporal UI', () => {
  const codec = new AesGcmCodec([key('ui')]);
  const UI = 'http://localhost:8233';
  let base: string;
  let withAuth: string;
  const servers = [codecServer({ codec, origins: [UI] }), codecServer({ codec, origins: [UI], authToken: 'codec-token-123' })];
  before(async () => {
    const ports = await Promise.all(servers.map((s) => new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)))));
    base = `http://127.0.0.1:${ports[0]}`;
    withAuth = `http://127.0.0.1:${ports[1]}`;
  });
  after(() => servers.forEach((s) => s.close()));

  const json = (p: Payload) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])),
    data: Buffer.from(p.data ?? []).toString('base64'),
  });
  const post = (url: string, body: unknown, headers: Record<string, string> = {}) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', origin: UI, ...headers }, body: JSON.stringify(body) });

  it('decodes what the worker encoded, in the JSON format Temporal documents, with CORS for the UI', async () => {
    const [enc] = await codec.encode([plain({ release: 'x' })]);
    const res = await post(`${base}/decode`, { payloads: [json(enc!)] }, { 'x-namespace': 'default' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), UI);
    const { payloads } = (await res.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    assert.equal(Buffer.from(payloads[0]!.metadata.encoding!, 'base64').toString(), 'json/plain');
    assert.deepEqual(JSON.parse(Buffer.from(payloads[0]!.data, 'base64').toString()), { release: 'x' });
    // A path prefix, as a UI endpoint such as https://host/codec has.
    assert.equal((await post(`${base}/codec/decode`, { payloads: [] })).status, 200);
  });

  it('encodes too, and the result decodes with the key', async () => {
    const res = await post(`${base}/encode`, { payloads: [json(plain('from the UI'))] });
    const { payloads } = (await res.json()) as { payloads: ReturnType<typeof json>[] };
    assert.equal(Buffer.from(payloads[0]!.metadata.encoding!, 'base64').toString(), 'binary/encrypted');
  });

  it('answers a preflight for the UI origin only', async () => {
    const ok = await fetch(`${base}/decode`, { method: 'OPTIONS', headers: { origin: UI, 'access-control-request-method': 'POST' } });
    assert.equal(ok.status, 204);
    assert.match(ok.headers.get('access-control-allow-headers') ?? '', /x-namespace/);
    const other = await fetch(`${base}/decode`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
  });

  it('with a token, refuses a request without it', async () => {
    assert.equal((await post(`${withAuth}/decode`, { payloads: [] })).status, 401);
    assert.equal((await post(`${withAuth}/decode`, { payloads: [] }, { authorization: 'Bearer wrong-token-xyz' })).status, 401);
    assert.equal((await post(`${withAuth}/decode`, { payloads: [] }, { authorization: 'Bearer codec-token-123' })).status, 200);
  });

  it('bad requests are refused with the reason', async () => {
    const [foreign] = await new AesGcmCodec([key('elsewhere')]).encode([plain(1)]);
    const unknown = await post(`${base}/decode`, { payloads: [json(foreign!)] });
    assert.equal(unknown.status, 422);
    assert.match(((await unknown.json()) as { error: string }).error, /key id "elsewhere"/);
    assert.equal((await post(`${base}/decode`, { nope: 1 })).status, 400);
    assert.equal((await fetch(`${base}/decode`)).status, 404);
  });

  it('the command listens on loopback by default and allows the local UIs', () => {
    const f = parseFlags(codecServerFlags, []);
    assert.deepEqual(f.listen, { host: '127.0.0.1', port: 8888 });
    assert.deepEqual(defaultOrigins({ ROLLGATE_UI_URL: 'https://temporal.example.com/ui' }).slice(-1), ['https://temporal.example.com']);
    assert.throws(() => parseFlags(codecServerFlags, ['--origin', 'https://ui.example.com/path']), /--origin: "https:\/\/ui\.example\.com\/path" is not an origin/);
    assert.throws(() => parseFlags(codecServerFlags, ['--listen', 'nowhere']), /--listen: "nowhere" is not HOST:PORT/);
  });
});
