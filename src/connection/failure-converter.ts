import { DefaultFailureConverter } from '@temporalio/common';

/**
 * Loaded by path (the SDK's `failureConverterPath`), in the worker, its workflow bundle and the
 * client, when a codec key is set: failure messages and stack traces become a payload, which the
 * codec encrypts, instead of plain text in history.
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
