#!/usr/bin/env bash
# Builds the release tarball the Nomad artifact points to: vmgate/ with dist/, package.json and the production
# node_modules (the netlink prebuilds included), so `node vmgate/dist/src/cli/bin.js` runs on a host without npm.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(node -p 'require("./package.json").version')
arch=$(node -p 'process.arch')
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
npx tsc -p tsconfig.json
mkdir -p "$stage/vmgate" release
cp -r dist proto openapi.json package.json package-lock.json README.md "$stage/vmgate/"
rm -rf "$stage/vmgate/dist/bench"
(cd "$stage/vmgate" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
out="release/vmgate-$version-linux-$arch.tar.gz"
tar -C "$stage" -czf "$out" vmgate
sha=$(sha256sum "$out" | cut -d' ' -f1)
echo "$out"
echo "sha256 $sha  (nomad job run -var vmgate_sha256=$sha nomad/orchestrator.nomad.hcl)"
