import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import type { ConnectionSettings } from '../domain/connection';

/** Reads the certificate files named by the settings. */
export function tlsConfig(settings: ConnectionSettings): TLSConfig | undefined {
  const t = settings.tls;
  if (!t) return undefined;
  return {
    ...(t.serverName ? { serverNameOverride: t.serverName } : {}),
    ...(t.caPath ? { serverRootCACertificate: readFileSync(t.caPath) } : {}),
    ...(t.certPath && t.keyPath ? { clientCertPair: { crt: readFileSync(t.certPath), key: readFileSync(t.keyPath) } } : {}),
  };
}
