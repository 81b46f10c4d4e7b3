#!/usr/bin/env bash
# npm test: provision every real server (the compose plugin too), typecheck, lint, then every test file with node's test runner.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup-tools.sh all
npx tsc --noEmit -p .
npx eslint .
mapfile -t files < <(find test -name '*.test.ts' | sort)
# A test that hangs fails after 15 min instead of holding CI to its limit.
exec node --import tsx --test --test-concurrency=1 --test-timeout=900000 --test-reporter=spec "${files[@]}"
