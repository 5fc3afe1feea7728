# shellcheck shell=bash
# The prelude every script in scripts/ shares; each sources it first:
#
#   # shellcheck source=scripts/lib.sh
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# It sets strict mode (set -euo pipefail), sets `root` to the repository's root and changes
# to it (unless the script set LIB_KEEP_CWD=1 first: scripts/rabbitmq takes paths relative to
# the caller's directory), puts rustup's cargo on PATH, and defines:
#   log MESSAGE...          "==> MESSAGE" on stderr, after a blank line
#   as_root COMMAND...      COMMAND as root: directly, or through `sudo -n`
#   apt_get ARGS...         apt-get as root, non-interactive, quiet, waiting for the dpkg lock
#   apt_install PACKAGE...  apt-get update, then install PACKAGEs without recommends
#   release_dir             cargo's release build directory (CARGO_TARGET_DIR honoured)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ ${LIB_KEEP_CWD:-0} == 1 ]] || cd "$root"

# rustup installs cargo into ~/.cargo/bin, which non-login shells may lack.
if ! command -v cargo >/dev/null 2>&1 && [[ -x ${CARGO_HOME:-$HOME/.cargo}/bin/cargo ]]; then
	PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi

log() { printf '\n==> %s\n' "$*" >&2; }

as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo -n "$@"
	else
		echo "${0##*/}: need root (or sudo) to run: $*" >&2
		return 1
	fi
}

apt_get() {
	as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -qq "$@"
}

apt_install() {
	local tries=0
	# DPkg::Lock::Timeout does not cover the lists lock of `apt-get update`: another apt-get
	# (a parallel test run installing the same packages) makes it fail at once; wait for it.
	until apt_get update >&2; do
		((++tries < 60)) || return 1
		sleep 5
	done
	apt_get -y --no-install-recommends install "$@" >&2
}

release_dir() {
	echo "$(cargo metadata --format-version 1 --no-deps |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release"
}
