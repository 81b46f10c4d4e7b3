import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.tools/', 'out/', 'bin/', 'scratch/', 'eslint.config.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // Plain Node scripts (the demo's deploy command).
    files: ['**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', fetch: 'readonly', console: 'readonly', setTimeout: 'readonly', setInterval: 'readonly' } },
  },
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // node:test's describe/it return promises that the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox; domain code is imported by it.
    files: ['src/workflows/**/*.ts', 'src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'No Node built-ins in workflow or domain code.' })),
          patterns: [
            { group: ['**/activities', '**/activities/**'], allowTypeImports: true, message: 'Workflows import activity types only.' },
            { group: ['@temporalio/client', '@temporalio/worker', '@temporalio/activity', '@temporalio/testing'], message: 'Not workflow-safe.' },
            { group: ['**/evidence', '**/evidence/**', '**/connection', '**/connection/**', '**/worker', '**/worker/**', '**/cli', '**/cli/**'], allowTypeImports: true, message: 'Workflow and domain code import no I/O rooms (evidence, connection, worker, CLI), types aside.' },
          ],
        },
      ],
      'no-restricted-globals': ['error', { name: 'process', message: 'No process in workflow or domain code.' }],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'Use the SDK randomness (uuid4) in workflows.' },
      ],
    },
  },
  {
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'Domain code is deterministic.' },
        { object: 'Date', property: 'now', message: 'Domain code is deterministic: pass time in.' },
      ],
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'Domain code is pure.' })),
          patterns: [{ group: ['@temporalio/*'], allowTypeImports: true, message: 'Domain code imports Temporal types only.' }, { group: ['**/activities', '**/activities/**', '**/workflows', '**/workflows/**', '**/evidence', '**/evidence/**', '**/connection', '**/connection/**', '**/worker', '**/worker/**', '**/cli', '**/cli/**'], message: 'Domain depends on nothing above it.' }],
        },
      ],
    },
  },
  {
    // Evidence readers are plain functions that the activities wrap and `rollgate decide` calls.
    files: ['src/evidence/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@temporalio/*', '@temporalio/**'], message: 'Evidence readers know nothing of Temporal.' },
            { group: ['**/activities', '**/activities/**', '**/workflows', '**/workflows/**', '**/worker', '**/worker/**', '**/cli', '**/cli/**', '**/connection', '**/connection/**'], message: 'Evidence readers use src/domain and Node only.' },
          ],
        },
      ],
    },
  },
  {
    // The CLI runs where no worker runs: it reads evidence itself and steers releases through the client.
    files: ['src/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/activities', '**/activities/**'], message: 'The CLI reaches no activity; the evidence readers are in src/evidence.' },
            // `rollgate worker` loads the worker with a lazy require, typed by a type-only import.
            { regex: '^(\\.\\./)+worker(/|$)', allowTypeImports: true, message: 'The CLI imports worker types only; rollgate worker requires it lazily.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/worker/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/cli', '**/cli/**'], message: 'The worker never imports the CLI; what both need lives in src/connection or src/domain.' }] }],
    },
  },
  {
    // Shared by the CLI and the worker, so it may depend on neither.
    files: ['src/connection/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/cli', '**/cli/**', '**/worker', '**/worker/**', '!@temporalio/worker', '**/activities', '**/activities/**'], message: 'The connection module uses src/domain, the message definitions and the Temporal client only.' }] },
      ],
    },
  },
);
