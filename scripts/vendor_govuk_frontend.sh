#!/usr/bin/env bash
# Copy the compiled GOV.UK Frontend assets into app/static/govuk/ (committed, so running the service
# needs no Node), and axe-core into tests/browser/vendor/ for the accessibility checks.
#
#   scripts/vendor_govuk_frontend.sh          # needs npm and the npm registry, nothing else
#
# GOV.UK Frontend is pinned to the release that govuk-frontend-jinja 4.1.0 (PyPI) was ported from:
# change both together. `npm pack` downloads the tarball and checks its registry integrity hash;
# nothing is installed and no package script runs.
set -euo pipefail

GOVUK_FRONTEND_VERSION=6.3.0
AXE_CORE_VERSION=4.14.1

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
npm pack --silent "govuk-frontend@${GOVUK_FRONTEND_VERSION}" "axe-core@${AXE_CORE_VERSION}" >/dev/null
mkdir govuk axe
tar -xzf "govuk-frontend-${GOVUK_FRONTEND_VERSION}.tgz" -C govuk
tar -xzf "axe-core-${AXE_CORE_VERSION}.tgz" -C axe
dist="$work/govuk/package/dist/govuk"

static="$root/app/static/govuk"
rm -rf "$static"
mkdir -p "$static/assets"
# The stylesheet points at /assets/...; make those URLs relative so they resolve under /static/govuk/.
# The GDS Transport font is licensed for GOV.UK services only: drop its @font-face rules and files so
# text falls back to the design system's own fallback stack (arial, sans-serif). Source maps stay out.
sed -e 's#url(/assets/#url(assets/#g' -e 's#@font-face{[^}]*}##g' -e 's#/\*\# sourceMappingURL=[^*]*\*/##' \
    "$dist/govuk-frontend.min.css" >"$static/govuk-frontend.min.css"
sed -e 's#//\# sourceMappingURL=.*$##' "$dist/govuk-frontend.min.js" >"$static/govuk-frontend.min.js"
cp -R "$dist/assets/images" "$dist/assets/manifest.json" "$static/assets/"
printf '%s\n' "govuk-frontend@${GOVUK_FRONTEND_VERSION} (npm, MIT licence), copied by scripts/vendor_govuk_frontend.sh" \
    >"$static/VERSION"

vendor="$root/tests/browser/vendor"
mkdir -p "$vendor"
cp "$work/axe/package/axe.min.js" "$vendor/axe.min.js"
cp "$work/axe/package/LICENSE" "$vendor/axe-core.LICENSE"
printf '%s\n' "axe-core@${AXE_CORE_VERSION} (npm), copied by scripts/vendor_govuk_frontend.sh" >"$vendor/VERSION"

if grep -q -e 'url(/assets/' -e '@font-face' "$static/govuk-frontend.min.css"; then
    echo "absolute asset URLs or font faces left in the stylesheet" >&2
    exit 1
fi
echo "GOV.UK Frontend ${GOVUK_FRONTEND_VERSION} -> ${static#"$root"/}"
echo "axe-core ${AXE_CORE_VERSION} -> ${vendor#"$root"/}"
