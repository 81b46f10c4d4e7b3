/**
 * `curl -f` semantics: a response with status below 400 passes; anything else, or no answer, fails.
 * Like curl without -L, a redirect is not followed: the service under test must not send the
 * worker's request anywhere else.
 */
export async function smokeTest(url: string, timeoutMs = 10_000): Promise<{ ok: boolean; detail: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await res.body?.cancel();
    return { ok: res.status < 400, detail: `GET ${url} → ${res.status}` };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    const why = err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err.cause?.code ?? err.message);
    return { ok: false, detail: `GET ${url} failed: ${why}` };
  }
}
