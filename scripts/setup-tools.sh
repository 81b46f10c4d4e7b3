#!/usr/bin/env bash
# Provisions the real servers a command runs against, into .tools/ (git-ignored).
#
#   bash scripts/setup-tools.sh [TOOL...]     (no TOOL, or `all`: every tool, as `npm test` and CI need)
#
#   temporal     the Temporal CLI dev server, built with go install (the demo, the benchmarks, the tests)
#   test-server  the Java time-skipping test server, its classpath resolved by Maven (workflow tests, bench/history)
#   prometheus   Debian's prometheus package, with promtool (the demo, the benchmarks, the tests)
#   compose      the Docker CLI's compose plugin, built with Go (only test/deploy/compose.test.ts)
#
# Node dependencies are installed whatever the list. Idempotent: a tool already provisioned, or
# already on PATH, is left as it is. Each step that builds or installs something says how long it took.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"
TEMPORAL_CLI_VERSION="v1.5.1"          # v1.6.0+ carry a replace directive that go install refuses
TEST_SERVER_VERSION="1.31.0"           # io.temporal:temporal-test-server
COMPOSE_VERSION="v2.40.3"
ALL=(temporal test-server prometheus compose)

log() { printf '[setup] %s\n' "$*" >&2; }
took() { log "$1 took $((SECONDS - $2)) s"; }

wanted=()
for tool in "${@:-all}"; do
  case "$tool" in
    all) wanted+=("${ALL[@]}") ;;
    temporal | test-server | prometheus | compose) wanted+=("$tool") ;;
    *) log "unknown tool '$tool' (known: ${ALL[*]}, all)"; exit 2 ;;
  esac
done
wants() { [[ " ${wanted[*]} " == *" $1 "* ]]; }
mkdir -p "$BIN"

# Node dependencies, so that `npm test`, `npm run demo` and `npm run bench` work on a fresh clone.
if [[ ! -d "$ROOT/node_modules/@temporalio/worker" ]]; then
  log "installing node dependencies (npm ci)"
  t=$SECONDS
  (cd "$ROOT" && npm ci --no-audit --no-fund >&2)
  took "npm ci" "$t"
fi

# Temporal CLI (dev server), built from the Go module proxy.
provision_temporal() {
  if [[ -x "$BIN/temporal" ]]; then
    :
  elif command -v temporal >/dev/null 2>&1; then
    ln -sf "$(command -v temporal)" "$BIN/temporal"
    log "using temporal from PATH"
  else
    command -v go >/dev/null 2>&1 || { log "go is required to build the Temporal CLI"; exit 1; }
    log "building Temporal CLI $TEMPORAL_CLI_VERSION with go install (first run only)"
    local t=$SECONDS
    GOBIN="$BIN" go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION"
    took "go install temporal" "$t"
  fi
}

# Java time-skipping test server, its classpath resolved by Maven.
provision_test_server() {
  local dir="$TOOLS/test-server"
  if [[ -x "$BIN/temporal-test-server" && -s "$dir/classpath.txt" ]]; then
    :
  elif command -v temporal-test-server >/dev/null 2>&1; then
    ln -sf "$(command -v temporal-test-server)" "$BIN/temporal-test-server"
    log "using temporal-test-server from PATH"
  else
    command -v mvn >/dev/null 2>&1 || { log "mvn and java are required for the time-skipping test server"; exit 1; }
    log "resolving io.temporal:temporal-test-server:$TEST_SERVER_VERSION with Maven (first run only)"
    local t=$SECONDS
    mkdir -p "$dir"
    cat > "$dir/pom.xml" <<POM
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
    (cd "$dir" && mvn -q -B dependency:build-classpath -Dmdep.outputFile=classpath.txt.tmp >&2)
    mv "$dir/classpath.txt.tmp" "$dir/classpath.txt"
    # The SDK starts this with "<port>" and kills it when done, so java must replace the shell.
    cat > "$BIN/temporal-test-server" <<'SH'
#!/usr/bin/env bash
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../test-server" && pwd)"
exec java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss1m -cp "$(cat "$DIR/classpath.txt")" io.temporal.testserver.TestServer "$@"
SH
    chmod +x "$BIN/temporal-test-server"
    took "maven" "$t"
  fi
}

# Prometheus (and promtool) from Debian's package: the metric analysis and the demo scrape with it.
provision_prometheus() {
  if [[ -x "$BIN/prometheus" && -x "$BIN/promtool" ]]; then
    :
  elif command -v prometheus >/dev/null 2>&1; then
    ln -sf "$(command -v prometheus)" "$BIN/prometheus"
    command -v promtool >/dev/null 2>&1 && ln -sf "$(command -v promtool)" "$BIN/promtool"
    log "using prometheus from PATH"
  else
    command -v apt-get >/dev/null 2>&1 || { log "prometheus is required: install Debian's prometheus package or put prometheus on PATH"; exit 1; }
    log "installing prometheus from Debian's package (first run only)"
    local t=$SECONDS sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq >&2
    # The package's service is not started: there is no init system in CI, and tests start their own.
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >&2
    ln -sf "$(command -v prometheus)" "$BIN/prometheus"
    ln -sf "$(command -v promtool)" "$BIN/promtool"
    took "apt-get install prometheus" "$t"
  fi
}

# The Docker CLI's compose plugin, to check docker-compose.yml with `docker compose config` (the
# engine is not needed). `go install` refuses the module (its go.mod has exclude directives), so
# the module's own source is built, with every dependency from the Go module proxy.
provision_compose() {
  local plugin="$TOOLS/docker/cli-plugins/docker-compose"
  if [[ -x "$plugin" ]] || docker compose version >/dev/null 2>&1; then
    :
  elif command -v docker >/dev/null 2>&1 && command -v go >/dev/null 2>&1; then
    log "building the docker compose plugin $COMPOSE_VERSION from the Go module proxy (first run only)"
    local t=$SECONDS src work
    src="$(go mod download -json "github.com/docker/compose/v2@$COMPOSE_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
    work="$(mktemp -d)"
    cp -r "$src/." "$work/" && chmod -R u+w "$work"
    mkdir -p "$(dirname "$plugin")"
    (cd "$work" && go build -o "$plugin" ./cmd >&2)
    rm -rf "$work"
    took "go build docker-compose" "$t"
  else
    log "no docker CLI or no go: the docker-compose.yml check will say so"
  fi
}

wants temporal && provision_temporal
wants test-server && provision_test_server
wants prometheus && provision_prometheus
wants compose && provision_compose

log "tools ready in .tools/bin: $(ls "$BIN" | tr '\n' ' ')"
