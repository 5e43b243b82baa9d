# shellcheck shell=bash
# Sourced by scripts that install missing Debian packages (scripts/deps.sh,
# scripts/windows/deps.sh, scripts/browser-test.sh). Each one decides what
# is missing and what to say where there is no apt-get; this installs it.

# apt_install [--lock-timeout SECONDS] NAME PKG...: installs PKG... with
# apt-get (update, then install without recommends, quietly), as root or
# through sudo, saying "NAME: installing PKG..." on stderr first. Without
# root and without sudo it says so and exits the script with status 1.
# --lock-timeout: wait that long for another apt/dpkg run's lock instead
# of failing at once.
apt_install() {
	local opts=()
	if [ "${1:-}" = --lock-timeout ]; then
		opts=(-o "DPkg::Lock::Timeout=$2")
		shift 2
	fi
	local name=$1
	shift
	local sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
			echo "$name: need root to install: $*" >&2
			exit 1
		fi
	fi
	echo "$name: installing $*" >&2
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get "${opts[@]}" update -qq
	$sudo apt-get "${opts[@]}" install -y -qq --no-install-recommends "$@" >/dev/null
}
