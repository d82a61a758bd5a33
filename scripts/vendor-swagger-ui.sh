#!/usr/bin/env bash
# Refresh the Swagger UI files that every service and the gateway serve at /docs (no CDN:
# the page must work where the browser reaches only our hosts). Pinned version; the npm
# tarball's integrity is checked by npm, and the sha256 of each copied file is recorded.
#   scripts/vendor-swagger-ui.sh [version]
set -euo pipefail
VERSION=${1:-5.35.0}
cd "$(dirname "$0")/.."
dest=libs/crm_common/crm_common/swagger_ui
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "swagger-ui-dist@$VERSION" >/dev/null && tar xzf swagger-ui-dist-*.tgz)
for f in swagger-ui-bundle.js swagger-ui.css LICENSE; do cp "$tmp/package/$f" "$dest/$f"; done
{
  echo "swagger-ui-dist $VERSION (npm registry), Apache-2.0 (LICENSE beside this file)."
  echo "Refresh: scripts/vendor-swagger-ui.sh <version>"
  (cd "$dest" && sha256sum swagger-ui-bundle.js swagger-ui.css)
} > "$dest/VERSION"
echo "vendored swagger-ui-dist $VERSION into $dest"
