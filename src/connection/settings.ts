import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';

/** The task queue of release workflows and their activities, unless ROLLGATE_TASK_QUEUE says otherwise. */
export const DEFAULT_TASK_QUEUE = 'rollgate';

/** Temporal connection settings from the environment, with the Temporal CLI's variable names. */
export interface ConnectionSettings {
  address: string;
  namespace: string;
  taskQueue: string;
  /** TLS is on when any TLS variable or an API key is set. */
  tls?: { certPath?: string; keyPath?: string; caPath?: string; serverName?: string };
  /** The name of the variable holding the API key; the key itself is read where it is used. */
  apiKeyVar?: string;
}

export function connectionSettings(env: Readonly<Record<string, string | undefined>>): ConnectionSettings {
  const tlsWanted = ['TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY', 'TEMPORAL_TLS_CA', 'TEMPORAL_TLS_SERVER_NAME'].some((k) => env[k]) || env.TEMPORAL_TLS === 'true' || !!env.TEMPORAL_API_KEY;
  if (!!env.TEMPORAL_TLS_CERT !== !!env.TEMPORAL_TLS_KEY) throw new Error('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY: give both for mTLS, or neither');
  return {
    address: env.TEMPORAL_ADDRESS || 'localhost:7233',
    namespace: env.TEMPORAL_NAMESPACE || 'default',
    taskQueue: env.ROLLGATE_TASK_QUEUE || DEFAULT_TASK_QUEUE,
    ...(tlsWanted
      ? {
          tls: {
            ...(env.TEMPORAL_TLS_CERT ? { certPath: env.TEMPORAL_TLS_CERT } : {}),
            ...(env.TEMPORAL_TLS_KEY ? { keyPath: env.TEMPORAL_TLS_KEY } : {}),
            ...(env.TEMPORAL_TLS_CA ? { caPath: env.TEMPORAL_TLS_CA } : {}),
            ...(env.TEMPORAL_TLS_SERVER_NAME ? { serverName: env.TEMPORAL_TLS_SERVER_NAME } : {}),
          },
        }
      : {}),
    ...(env.TEMPORAL_API_KEY ? { apiKeyVar: 'TEMPORAL_API_KEY' } : {}),
  };
}

/** The SDK's TLS options for the settings; `read` loads a file named by the given variable. */
export function tlsOptions(settings: ConnectionSettings, read: (path: string, variable: string) => Buffer): TLSConfig | undefined {
  const t = settings.tls;
  if (!t) return undefined;
  return {
    ...(t.serverName ? { serverNameOverride: t.serverName } : {}),
    ...(t.caPath ? { serverRootCACertificate: read(t.caPath, 'TEMPORAL_TLS_CA') } : {}),
    ...(t.certPath && t.keyPath ? { clientCertPair: { crt: read(t.certPath, 'TEMPORAL_TLS_CERT'), key: read(t.keyPath, 'TEMPORAL_TLS_KEY') } } : {}),
  };
}
