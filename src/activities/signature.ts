import { createHmac } from 'node:crypto';

/** The `X-Rollgate-Signature` value of a body: `sha256=<hex HMAC-SHA256>`, for notification and deploy webhooks alike. */
export const signature = (secret: string, body: string): string => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
