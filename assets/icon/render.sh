#!/usr/bin/env bash
# Renders the icon's PNG sizes and the Windows .ico from sheetbridge.svg
# (Debian packages librsvg2-bin and imagemagick).
set -euo pipefail
cd "$(dirname "$0")"
for size in 16 32 48 64 128 256; do
  rsvg-convert -w "$size" -h "$size" sheetbridge.svg -o "sheetbridge-$size.png"
done
convert sheetbridge-16.png sheetbridge-32.png sheetbridge-48.png sheetbridge-64.png sheetbridge-128.png sheetbridge-256.png sheetbridge.ico
rm sheetbridge-16.png sheetbridge-48.png sheetbridge-128.png
