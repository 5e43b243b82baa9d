#!/usr/bin/env bash
# Runs the dashboard browser test (internal/bench/api/...) with Debian's
# headless chromium driven through chromedriver (W3C WebDriver). Installs
# chromium and chromium-driver with apt-get when they are missing. The
# screenshot and other artifacts go to KEYPREP_ARTIFACTS (default
# artifacts/). Extra arguments go to `go test` (e.g. -run TestDashboard -v).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/apt.sh
. scripts/lib/apt.sh

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
if [ ${#need[@]} -gt 0 ]; then
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "browser-test: missing ${need[*]} and no apt-get: install chromium and its chromedriver" >&2
		exit 1
	fi
	# Another job may hold the dpkg lock: wait for it instead of failing.
	apt_install --lock-timeout 600 browser-test "${need[@]}"
fi

export KEYPREP_BROWSER_TEST=1
export KEYPREP_ARTIFACTS="${KEYPREP_ARTIFACTS:-$PWD/artifacts}"
mkdir -p "$KEYPREP_ARTIFACTS"
echo "browser-test: chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}'), artifacts in $KEYPREP_ARTIFACTS" >&2
# The dashboard against the simulated engine (bench/api), then against the
# real daemon: keyprep serve on virtual keys and the emulated tenant (cli).
# go test passes when nothing ran ("no tests to run", or a test that
# skipped): the run counts only when the browser tests passed, both of them
# unless the caller chose with extra arguments.
log="$KEYPREP_ARTIFACTS/browser-test.log"
rc=0
go test -count=1 -v -run 'Browser' "$@" ./internal/bench/api/... ./internal/cli/ 2>&1 | tee "$log" || rc=$?
[ "$rc" -eq 0 ] || exit "$rc"
if grep -qE '^\s*--- SKIP: TestBrowser|no tests to run' "$log"; then
	echo "browser-test: a browser test skipped or none ran (see $log)" >&2
	exit 1
fi
want=(TestBrowserDashboard TestBrowserDaemon)
[ $# -eq 0 ] || want=(TestBrowser)
for t in "${want[@]}"; do
	grep -qE "^--- PASS: $t" "$log" || { echo "browser-test: $t did not pass (see $log)" >&2; exit 1; }
done
echo "browser-test: $(grep -cE '^--- PASS: TestBrowser' "$log") browser tests passed" >&2
