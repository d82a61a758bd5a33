#!/usr/bin/env bash
# `make vendor-echarts [ECHARTS_VERSION=x.y.z]`: (re)place the dashboard's chart library,
# Apache ECharts, from the npm registry. `npm pack` downloads the release tarball and checks
# it against the registry's sha512 integrity; we keep the one file the page loads
# (dist/echarts.common.min.js: bar, line and pie charts with their components, 0.7 MB) and
# the licences it needs, and write README.md with the version, both checksums and licences.
# gateway/tests/unit/test_dashboard_files.py checks the file against the sha256 recorded here.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=${1:-${ECHARTS_VERSION:-6.1.0}}
DEST=gateway/src/gateway/dashboard/static/vendor/echarts
FILE=echarts.common.min.js

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pack() {  # name@version -> unpacked into $tmp/<name>, integrity printed
  local spec=$1 name=${1%@*}
  (cd "$tmp" && npm pack --silent --json "$spec" > "$name.json")
  mkdir -p "$tmp/$name" && tar xzf "$tmp/$(json "$tmp/$name.json" filename)" -C "$tmp/$name"
  json "$tmp/$name.json" integrity
}
json() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0][sys.argv[2]])' "$1" "$2"; }

integrity=$(pack "echarts@$VERSION")
pkg=$tmp/echarts/package
zrender=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dependencies"]["zrender"])' "$pkg/package.json")
zrender_integrity=$(pack "zrender@$zrender")  # bundled into the dist file: its licence travels with it

mkdir -p "$DEST"
rm -f "$DEST"/*
cp "$pkg/dist/$FILE" "$DEST/$FILE"
cp "$pkg/LICENSE" "$DEST/LICENSE"
cp "$pkg/NOTICE" "$DEST/NOTICE"
cp "$pkg/licenses/LICENSE-d3" "$DEST/LICENSE-d3"
cp "$tmp/zrender/package/LICENSE" "$DEST/LICENSE-zrender"
sha256=$(sha256sum "$DEST/$FILE" | cut -d' ' -f1)
size=$(stat -c %s "$DEST/$FILE")

cat > "$DEST/README.md" <<README
# Apache ECharts, vendored for the dashboard

| | |
| --- | --- |
| package | \`echarts@$VERSION\` from the npm registry |
| file | \`$FILE\` (the package's \`dist/$FILE\`, $size bytes) |
| sha256 | \`$sha256\` |
| npm integrity (tarball) | \`$integrity\` |
| licence | Apache-2.0 (\`LICENSE\`, \`NOTICE\`); bundled: zrender $zrender BSD-3-Clause (\`LICENSE-zrender\`, tarball \`$zrender_integrity\`), parts of d3 BSD-3-Clause (\`LICENSE-d3\`), tslib 0BSD |

Loaded by \`../../index.html\` as a classic script (global \`echarts\`). Nothing else is
fetched: the page works with the network closed.

Refresh or move to another version (then run the dashboard tests):

\`\`\`bash
make vendor-echarts ECHARTS_VERSION=$VERSION
.venv/bin/pytest gateway/tests/unit/test_dashboard_files.py tests/test_dashboard.py
\`\`\`

Written by \`scripts/vendor-echarts.sh\`; do not edit the vendored file by hand.
README
echo "vendored echarts $VERSION ($FILE, sha256 $sha256) into $DEST"
