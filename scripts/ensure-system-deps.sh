#!/usr/bin/env bash
# Make sure the shared libraries WeasyPrint loads at run time are present.
# Debian/Ubuntu only; elsewhere it says what is missing and leaves it to you.
set -euo pipefail
missing=()
for lib in libpango-1.0.so.0 libpangoft2-1.0.so.0 libharfbuzz.so.0 libharfbuzz-subset.so.0 libfontconfig.so.1; do
  ldconfig -p | grep -q "$lib" || missing+=("$lib")
done
fc-list 2>/dev/null | grep -qi "DejaVu Sans" || missing+=("DejaVu fonts")
# Customers write in every script: without a font that has its letters, a comment prints as boxes.
# DejaVu covers Latin, Greek, Cyrillic, Hebrew and Arabic; Droid Sans Fallback (2 MB) Chinese
# and Japanese; Nanum (10 MB) Korean (Droid has 3 of its 11,172 syllables); Noto (12 MB)
# Devanagari, Thai and the other scripts.
[ -n "$(fc-list :lang=ja 2>/dev/null)" ] || missing+=("a CJK font")
[ -n "$(fc-list :lang=ko 2>/dev/null)" ] || missing+=("a Korean font")
[ -n "$(fc-list :lang=hi 2>/dev/null)" ] && [ -n "$(fc-list :lang=th 2>/dev/null)" ] || missing+=("Noto fonts")
[ ${#missing[@]} -eq 0 ] && exit 0
echo "Installing WeasyPrint's system libraries and fonts (missing: $(IFS=,; echo "${missing[*]}"))"
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 libfontconfig1 fonts-dejavu-core \
    fonts-droid-fallback fonts-nanum fonts-noto-core >/dev/null
else
  echo "Install Pango >= 1.44 and fonts for DejaVu, CJK, Korean and Noto with your package manager." >&2
  exit 1
fi
