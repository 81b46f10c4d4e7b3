#!/usr/bin/env bash
# Provisions the real servers the tests and the demo run against, into .tools/ (git-ignored).
# Idempotent: a tool already provisioned, or already on PATH, is left as it is.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"
TEMPORAL_CLI_VERSION="v1.5.1"          # v1.6.0+ carry a replace directive that go install refuses
TEST_SERVER_VERSION="1.31.0"           # io.temporal:temporal-test-server
mkdir -p "$BIN"

log() { printf '[setup] %s\n' "$*" >&2; }

# Node dependencies, so that `npm test` and `npm run demo` work on a fresh clone.
if [[ ! -d "$ROOT/node_modules/@temporalio/worker" ]]; then
  log "installing node dependencies (npm ci)"
  (cd "$ROOT" && npm ci --no-audit --no-fund >&2)
fi

# Temporal CLI (dev server), built from the Go module proxy.
if [[ -x "$BIN/temporal" ]]; then
  :
elif command -v temporal >/dev/null 2>&1; then
  ln -sf "$(command -v temporal)" "$BIN/temporal"
  log "using temporal from PATH"
else
  command -v go >/dev/null 2>&1 || { log "go is required to build the Temporal CLI"; exit 1; }
  log "building Temporal CLI $TEMPORAL_CLI_VERSION with go install (first run only)"
  GOBIN="$BIN" go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION"
fi

# Java time-skipping test server, its classpath resolved by Maven.
TS_DIR="$TOOLS/test-server"
if [[ -x "$BIN/temporal-test-server" && -s "$TS_DIR/classpath.txt" ]]; then
  :
elif command -v temporal-test-server >/dev/null 2>&1; then
  ln -sf "$(command -v temporal-test-server)" "$BIN/temporal-test-server"
  log "using temporal-test-server from PATH"
else
  command -v mvn >/dev/null 2>&1 || { log "mvn and java are required for the time-skipping test server"; exit 1; }
  log "resolving io.temporal:temporal-test-server:$TEST_SERVER_VERSION with Maven (first run only)"
  mkdir -p "$TS_DIR"
  cat > "$TS_DIR/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>rollgate.tools</groupId>
  <artifactId>temporal-test-server-classpath</artifactId>
  <version>1</version>
  <dependencies>
    <dependency>
      <groupId>io.temporal</groupId>
      <artifactId>temporal-test-server</artifactId>
      <version>$TEST_SERVER_VERSION</version>
    </dependency>
  </dependencies>
</project>
POM
  (cd "$TS_DIR" && mvn -q -B dependency:build-classpath -Dmdep.outputFile=classpath.txt.tmp >&2)
  mv "$TS_DIR/classpath.txt.tmp" "$TS_DIR/classpath.txt"
  # The SDK starts this with "<port>" and kills it when done, so java must replace the shell.
  cat > "$BIN/temporal-test-server" <<'SH'
#!/usr/bin/env bash
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../test-server" && pwd)"
exec java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss1m -cp "$(cat "$DIR/classpath.txt")" io.temporal.testserver.TestServer "$@"
SH
  chmod +x "$BIN/temporal-test-server"
fi

# Prometheus (and promtool) from Debian's package: the metric analysis and the demo scrape with it.
if [[ -x "$BIN/prometheus" ]]; then
  :
elif command -v prometheus >/dev/null 2>&1; then
  ln -sf "$(command -v prometheus)" "$BIN/prometheus"
  command -v promtool >/dev/null 2>&1 && ln -sf "$(command -v promtool)" "$BIN/promtool"
else
  command -v apt-get >/dev/null 2>&1 || { log "prometheus is required: install Debian's prometheus package or put prometheus on PATH"; exit 1; }
  log "installing prometheus from Debian's package (first run only)"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq >&2
  # The package's service is not started: there is no init system in CI, and tests start their own.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >&2
  ln -sf "$(command -v prometheus)" "$BIN/prometheus"
  ln -sf "$(command -v promtool)" "$BIN/promtool"
fi

# The Docker CLI's compose plugin, to check docker-compose.yml with `docker compose config` (the
# engine is not needed). `go install` refuses the module (its go.mod has exclude directives), so
# the module's own source is built, with every dependency from the Go module proxy.
COMPOSE_VERSION="v2.40.3"
COMPOSE_PLUGIN="$TOOLS/docker/cli-plugins/docker-compose"
if [[ -x "$COMPOSE_PLUGIN" ]] || docker compose version >/dev/null 2>&1; then
  :
elif command -v docker >/dev/null 2>&1 && command -v go >/dev/null 2>&1; then
  log "building the docker compose plugin $COMPOSE_VERSION from the Go module proxy (first run only)"
  src="$(go mod download -json "github.com/docker/compose/v2@$COMPOSE_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
  work="$(mktemp -d)"
  cp -r "$src/." "$work/" && chmod -R u+w "$work"
  mkdir -p "$(dirname "$COMPOSE_PLUGIN")"
  (cd "$work" && go build -o "$COMPOSE_PLUGIN" ./cmd >&2)
  rm -rf "$work"
else
  log "no docker CLI or no go: the docker-compose.yml check will say so"
fi

log "tools ready in .tools/bin: $(ls "$BIN" | tr '\n' ' ')"
