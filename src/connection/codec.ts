import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type DataConverter, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { InputError } from '../domain/errors';
import { secretValue } from './secrets';

/**
 * Temporal payload encryption (issue 13 §5): workflow inputs, results, activity arguments, heartbeats
 * and, with the failure converter below, error messages are AES-256-GCM ciphertext in the server's
 * history, readable only where the key is: the CLI, the worker, and `rollgate codec-server` for the UI.
 * The format is Temporal's samples' (`binary/encrypted`, `encryption-key-id`, 12-byte nonce, then the
 * ciphertext and its 16-byte tag over the whole encoded payload), so other tools can read it too.
 */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export class CodecError extends Error {}

export interface CodecKey {
  id: string;
  key: Buffer;
}

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array | null | undefined) => (b ? new TextDecoder().decode(b) : '');

export class AesGcmCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;
  private readonly current: CodecKey;

  /** The first key encrypts; every key decrypts, so a rotated-out key still reads old histories. */
  constructor(keys: readonly CodecKey[]) {
    if (keys.length === 0) throw new CodecError('no codec key');
    for (const k of keys) if (k.key.length !== 32) throw new CodecError(`codec key ${k.id}: must be 32 bytes, not ${k.key.length}`);
    this.current = keys[0]!;
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  get keyIds(): string[] {
    return [...this.byId.keys()];
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', this.current.key, nonce);
      const plain = temporal.api.common.v1.Payload.encodeDelimited(payload).finish();
      const data = Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return { metadata: { [METADATA_ENCODING_KEY]: text(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: text(this.current.id) }, data };
    });
  }

  /** Payloads that were never encrypted (written before a key was set) pass as they are. */
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (str(payload.metadata?.[METADATA_ENCODING_KEY]) !== ENCRYPTED_ENCODING) return payload;
      const id = str(payload.metadata?.[KEY_ID_METADATA]);
      if (!id) throw new CodecError('an encrypted payload has no encryption-key-id');
      const key = this.byId.get(id);
      if (!key) throw new CodecError(`a payload is encrypted with key id "${id}", which is not among this process's codec keys (${this.keyIds.join(', ')}): add it to ROLLGATE_CODEC_KEYS`);
      const data = Buffer.from(payload.data ?? []);
      if (data.length < NONCE_BYTES + TAG_BYTES) throw new CodecError(`an encrypted payload (key id "${id}") is too short`);
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, NONCE_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new CodecError(`a payload encrypted with key id "${id}" does not decrypt: it was altered, or the key with that id is not the one it was written with`);
      }
      return temporal.api.common.v1.Payload.decodeDelimited(plain) as Payload;
    });
  }
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

function parseKey(b64: string, where: string): Buffer {
  const key = Buffer.from(b64.trim(), 'base64');
  if (key.length !== 32 || !/^[A-Za-z0-9+/]+=*$/.test(b64.trim())) throw new InputError(`${where}: must be a 32-byte key in base64 (make one with: openssl rand -base64 32)`);
  return key;
}

/** A key's id when none is given: a short digest, so that a key rotated into a list keeps its id. */
export const keyFingerprint = (key: Buffer) => `k-${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;

/**
 * The codec keys from the environment, or none (payloads stay plain, as before):
 * ROLLGATE_CODEC_KEY (base64, 32 bytes; id ROLLGATE_CODEC_KEY_ID or its fingerprint), or for rotation
 * ROLLGATE_CODEC_KEYS=`id:base64,id:base64`, the first encrypting. Either may be given as a file (_FILE).
 */
export function codecKeysFromEnv(env: Readonly<Record<string, string | undefined>>): CodecKey[] {
  const one = secretValue(env, 'ROLLGATE_CODEC_KEY');
  const many = secretValue(env, 'ROLLGATE_CODEC_KEYS');
  if (one && many) throw new InputError('ROLLGATE_CODEC_KEY and ROLLGATE_CODEC_KEYS are both set: give one (the list for rotation)');
  if (one) {
    const key = parseKey(one, 'ROLLGATE_CODEC_KEY');
    const id = env.ROLLGATE_CODEC_KEY_ID || keyFingerprint(key);
    if (!KEY_ID.test(id)) throw new InputError('ROLLGATE_CODEC_KEY_ID: must be 1-64 letters, digits, ".", "_" or "-"');
    return [{ id, key }];
  }
  if (!many) return [];
  const keys = many
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry, i) => {
      const at = entry.indexOf(':');
      const id = entry.slice(0, at);
      if (at < 1 || !KEY_ID.test(id)) throw new InputError(`ROLLGATE_CODEC_KEYS: entry ${i + 1} must be id:base64-key, with an id of 1-64 letters, digits, ".", "_" or "-"`);
      return { id, key: parseKey(entry.slice(at + 1), `ROLLGATE_CODEC_KEYS: key "${id}"`) };
    });
  const seen = new Set<string>();
  for (const k of keys) {
    if (seen.has(k.id)) throw new InputError(`ROLLGATE_CODEC_KEYS: key id "${k.id}" is given twice`);
    seen.add(k.id);
  }
  if (keys.length === 0) throw new InputError('ROLLGATE_CODEC_KEYS: no key given');
  return keys;
}

/** The codec of the environment's keys, or none. */
export function codecFromEnv(env: Readonly<Record<string, string | undefined>>): AesGcmCodec | undefined {
  const keys = codecKeysFromEnv(env);
  return keys.length ? new AesGcmCodec(keys) : undefined;
}

/**
 * The data converter of the CLI and the worker: with a key, payloads are encrypted and failures'
 * messages and stack traces travel as encrypted payloads too (they may quote a command's output);
 * without one, the SDK's default (nothing changes).
 */
export function dataConverterFromEnv(env: Readonly<Record<string, string | undefined>>): DataConverter | undefined {
  const codec = codecFromEnv(env);
  if (!codec) return undefined;
  return { payloadCodecs: [codec], failureConverterPath: require.resolve('./failure-converter') };
}
