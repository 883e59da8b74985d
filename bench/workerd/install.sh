#!/usr/bin/env bash
# Install the pinned workerd (Cloudflare's open-source Workers runtime) from the npm registry
# into a cache folder, and print the path of the workerd binary on the last line of stdout.
#
#   bench/workerd/install.sh            # -> $HOME/.cache/dosim/workerd-1.20261117.1/.../workerd
#
# Cache folder: ${DOSIM_CACHE:-$HOME/.cache/dosim}/workerd-<version>. Nothing is done when the
# binary there already runs `--version`. A broken or partial install is replaced. The install
# goes to a staging folder first and is moved into place only once its binary runs, so an
# interrupted install never leaves a half-filled cache behind.
#
# Needs: npm (Node.js). The binary comes from the platform package @cloudflare/workerd-<platform>,
# which the `workerd` package lists as an optional dependency; both are installed by exact
# version, with install scripts disabled (the binary ships inside the package).
# All messages go to stderr; stdout carries only the binary's path.
set -euo pipefail

WORKERD_VERSION=1.20261117.1

die() {
  echo "install.sh: error: $*" >&2
  exit 1
}

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64 | Linux/amd64) platform=linux-64 ;;
  Linux/aarch64 | Linux/arm64) platform=linux-arm64 ;;
  Darwin/x86_64) platform=darwin-64 ;;
  Darwin/arm64) platform=darwin-arm64 ;;
  *) die "no workerd build for this platform: $(uname -s) $(uname -m)" ;;
esac

if [[ -z "${DOSIM_CACHE:-}" && -z "${HOME:-}" ]]; then
  die "neither DOSIM_CACHE nor HOME is set: cannot choose a cache folder"
fi
cache="${DOSIM_CACHE:-$HOME/.cache/dosim}"
dest="$cache/workerd-$WORKERD_VERSION"
rel_bin="node_modules/@cloudflare/workerd-$platform/bin/workerd"

# Does "$1" run and say it is workerd? (`workerd --version` prints "workerd <build date>".)
runs() {
  local out
  [[ -f "$1" && -x "$1" ]] && out="$("$1" --version 2>/dev/null)" && [[ "$out" == workerd\ * ]]
}

if runs "$dest/$rel_bin"; then
  echo "install.sh: workerd $WORKERD_VERSION already installed in $dest" >&2
  echo "$dest/$rel_bin"
  exit 0
fi

command -v npm >/dev/null 2>&1 || die "npm not found: install Node.js (with npm) first"
mkdir -p "$cache" || die "cannot create cache folder $cache"

stage="$(mktemp -d "$cache/.workerd-$WORKERD_VERSION.XXXXXX")" || die "cannot create a staging folder in $cache"
trap 'rm -rf "$stage"' EXIT

echo "install.sh: installing workerd $WORKERD_VERSION ($platform) from the npm registry into $dest" >&2
# npm's own output goes to stderr so that stdout keeps only the path.
if ! npm install --prefix "$stage" --no-audit --no-fund --no-package-lock --ignore-scripts \
  --include=optional --save-exact \
  "workerd@$WORKERD_VERSION" "@cloudflare/workerd-$platform@$WORKERD_VERSION" >&2; then
  die "npm install of workerd@$WORKERD_VERSION failed (is the npm registry reachable?)"
fi

[[ -f "$stage/$rel_bin" ]] || die "npm install succeeded but $rel_bin is missing"
chmod +x "$stage/$rel_bin"
if ! runs "$stage/$rel_bin"; then
  die "the installed binary does not run: $stage/$rel_bin --version said: $("$stage/$rel_bin" --version 2>&1 || true)"
fi
version="$("$stage/$rel_bin" --version)"

# Replace a broken install (if any), then move the staged one into place.
rm -rf "$dest"
mv "$stage" "$dest" || die "cannot move $stage to $dest"

runs "$dest/$rel_bin" || die "$dest/$rel_bin does not run after install"
echo "install.sh: installed $version" >&2
echo "$dest/$rel_bin"
