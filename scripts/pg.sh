#!/usr/bin/env bash
# pg.sh CMD [ARG...]: runs CMD with KEYPREP_TEST_POSTGRES pointing at a
# throwaway PostgreSQL cluster, and removes the cluster when CMD ends (or
# the script is interrupted). make test runs the tests through it.
#
# - KEYPREP_TEST_POSTGRES already set: CMD runs against that server as it is.
# - KEYPREP_TEST_POSTGRES=off: CMD runs without PostgreSQL (the store's
#   PostgreSQL tests skip, saying so).
# - Otherwise Debian's postgresql is installed when missing (apt-get, as
#   deps.sh does for libfido2-dev), and a cluster is created with initdb in
#   a temporary directory, owned by an unprivileged user when this runs as
#   root (PostgreSQL refuses to run as root; CI runs as root): the user
#   "nobody". It listens on a unix socket in that directory only (no TCP).
#   Local connections are trusted, except for the role keyprep_pwtest,
#   which must give its password (scram-sha-256): the store's tests check
#   the wrong-password error with it.
set -euo pipefail

if [ $# -eq 0 ]; then
	echo "usage: scripts/pg.sh CMD [ARG...]" >&2
	exit 2
fi
if [ -n "${KEYPREP_TEST_POSTGRES:-}" ]; then
	if [ "$KEYPREP_TEST_POSTGRES" = off ]; then unset KEYPREP_TEST_POSTGRES; fi
	exec "$@"
fi

pgbin() {
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
	done
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
		dirname "$(command -v initdb)"; return 0
	fi
	return 1
}

bin=$(pgbin || true)
if [ -z "$bin" ]; then
	if command -v apt-get >/dev/null 2>&1; then
		sudo=""
		if [ "$(id -u)" -ne 0 ]; then
			if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
				echo "pg: need root to install postgresql (or set KEYPREP_TEST_POSTGRES=postgres://... or =off)" >&2; exit 1
			fi
		fi
		echo "pg: installing postgresql" >&2
		export DEBIAN_FRONTEND=noninteractive
		$sudo apt-get update -qq
		# The package's post-install creates and starts a system cluster;
		# only its binaries are needed here, and policy-rc.d keeps the
		# service from starting where that is possible.
		$sudo apt-get install -y -qq --no-install-recommends postgresql >/dev/null
		bin=$(pgbin || true)
	fi
	if [ -z "$bin" ]; then
		echo "pg: PostgreSQL's initdb and pg_ctl not found; install PostgreSQL (Debian: apt-get install postgresql)," >&2
		echo "  or point the tests at a server with KEYPREP_TEST_POSTGRES=postgres://..., or skip them with KEYPREP_TEST_POSTGRES=off" >&2
		exit 1
	fi
fi

# as USER CMD...: run CMD as the cluster's owner.
owner=$(id -un)
as() { "$@"; }
if [ "$(id -u)" -eq 0 ]; then
	owner=nobody
	as() { setpriv --reuid="$owner" --regid="$(id -g "$owner")" --clear-groups -- "$@"; }
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/keyprep-pg.XXXXXX")
chmod 700 "$dir"
[ "$(id -u)" -ne 0 ] || chown "$owner" "$dir"
cleanup() {
	if [ -f "$dir/data/postmaster.pid" ]; then
		as "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start=$(date +%s%N)
as "$bin/initdb" -D "$dir/data" -U keyprep --auth-local=trust --auth-host=reject \
	--encoding=UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 ||
	{ cat "$dir/initdb.log" >&2; exit 1; }
# The password role first: pg_hba.conf is read top down.
{
	echo "local all keyprep_pwtest scram-sha-256"
	echo "local all all trust"
} >"$dir/data/pg_hba.conf"
# fsync=off: a throwaway cluster; listen_addresses='': the socket only.
as "$bin/pg_ctl" -D "$dir/data" -w -l "$dir/server.log" \
	-o "-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=off -c full_page_writes=off -c max_connections=200" \
	start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
as "$bin/psql" -h "$dir" -U keyprep -d postgres -qAt -v ON_ERROR_STOP=1 \
	-c "CREATE DATABASE keyprep_test" >/dev/null
echo "pg: PostgreSQL $("$bin/postgres" -V | awk '{print $3}') ready in $(( ($(date +%s%N) - start) / 1000000 )) ms (socket in $dir)" >&2

enc=$(printf '%s' "$dir" | sed 's,/,%2F,g')
export KEYPREP_TEST_POSTGRES="postgres://keyprep@/keyprep_test?host=$enc&sslmode=disable"
"$@"
