#!/usr/bin/env sh
# Build the SeaSight web map's and API page's vendored libraries (no bundler, no CDN).
#
# Installs the exact versions from web/package-lock.json (`npm ci`), then copies the browser
# builds the page loads into src/seasight/web/static/vendor/. Those copies are build products
# (ignored by git). After this step the map works offline.
#
# Usage: web/build.sh            (from anywhere; paths are relative to this script)
#        SEASIGHT_SKIP_NPM=1 web/build.sh   (only copy, when node_modules is already there)
set -eu

here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
root=$(dirname -- "$here")
vendor="$root/src/seasight/web/static/vendor"

if [ "${SEASIGHT_SKIP_NPM:-0}" != "1" ]; then
    npm ci --prefix "$here" --no-audit --no-fund --loglevel=error
fi

dist="$here/node_modules/maplibre-gl/dist"
mkdir -p "$vendor"
cp "$dist/maplibre-gl.js" "$dist/maplibre-gl.css" "$vendor/"
cp "$dist/LICENSE.txt" "$vendor/maplibre-gl.LICENSE.txt"
echo "web: vendored maplibre-gl $(node -p "require('$dist/../package.json').version") into $vendor"

# Swagger UI for the service's interactive API page (/docs), served from here, not a CDN.
swagger="$here/node_modules/swagger-ui-dist"
mkdir -p "$vendor/swagger-ui"
cp "$swagger/swagger-ui-bundle.js" "$swagger/swagger-ui.css" "$vendor/swagger-ui/"
cp "$swagger/LICENSE" "$vendor/swagger-ui/LICENSE"
echo "web: vendored swagger-ui-dist $(node -p "require('$swagger/package.json').version") into $vendor/swagger-ui"
