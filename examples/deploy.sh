#!/bin/sh
# A sample deploy command for rollgate (deploy.command: ["./deploy.sh", "{stage}"]).
# rollgate runs it without a shell for every step, with these variables:
#   ROLLGATE_STAGE      main (merge) | staging | production | production-green | production-blue
#   ROLLGATE_ACTION     merge | deploy | set-weight | promote | enable-flag | disable-flag | switch | retire | rollback
#   ROLLGATE_WEIGHT     share of traffic (or of users, for a flag) on the new version, 0 to 100
#   ROLLGATE_VERSION    the version to run (the previous one for a rollback)
#   ROLLGATE_PREVIOUS_VERSION, ROLLGATE_RELEASE_ID
#   ROLLGATE_IDEMPOTENCY_KEY   the same on every retry of one step: apply it once
#   ROLLGATE_COMMIT     the head commit rollgate judged: what merge merges (deploy.merge: true)
# Exit 0: done. Exit 75: try again later (rollgate retries). Anything else: the step failed.
# Output goes to out/logs/<idempotency key>.log.
set -eu

STATE_DIR="${DEPLOY_STATE_DIR:-.deploy-state}"
mkdir -p "$STATE_DIR"
KEY_FILE="$STATE_DIR/$(printf '%s' "$ROLLGATE_IDEMPOTENCY_KEY" | tr -c 'A-Za-z0-9._-' '_')"
if [ -e "$KEY_FILE" ]; then
  echo "already applied: $ROLLGATE_IDEMPOTENCY_KEY"
  exit 0
fi

say() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $ROLLGATE_ACTION $ROLLGATE_STAGE: $*"; }

case "$ROLLGATE_ACTION" in
  merge)        say "merge $ROLLGATE_COMMIT into main and push (git merge --no-ff $ROLLGATE_COMMIT && git push origin main)" ;;
  deploy)       say "install $ROLLGATE_VERSION (canary or green gets ${ROLLGATE_WEIGHT}% of traffic)" ;;
  set-weight)   say "route ${ROLLGATE_WEIGHT}% of traffic to $ROLLGATE_VERSION" ;;
  promote)      say "make $ROLLGATE_VERSION the stable version with all traffic" ;;
  switch)       say "switch the router from blue ($ROLLGATE_PREVIOUS_VERSION) to green ($ROLLGATE_VERSION)" ;;
  retire)       say "remove blue ($ROLLGATE_PREVIOUS_VERSION)" ;;
  enable-flag)  say "turn the flag on for ${ROLLGATE_WEIGHT}% of users" ;;
  disable-flag) say "turn the flag off" ;;
  rollback)
    if [ "$ROLLGATE_STAGE" = main ]; then say "revert the merge of $ROLLGATE_COMMIT on main and push"
    else say "all traffic back to $ROLLGATE_VERSION, then remove the new version"; fi ;;
  *)            echo "unknown action $ROLLGATE_ACTION" >&2; exit 2 ;;
esac
# Replace the lines above with your platform's commands (kubectl, helm, aws, nomad, ...).

touch "$KEY_FILE"
