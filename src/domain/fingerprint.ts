/**
 * A short fingerprint of a value's JSON (FNV-1a, 64 bits): pure and deterministic, so the workflow
 * and the CLI compute the same one. It tells two inputs apart; it is no defence against forgery.
 */
export function fingerprint(value: unknown): string {
  const text = JSON.stringify(value) ?? '';
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < text.length; i++) {
    h ^= BigInt(text.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}
