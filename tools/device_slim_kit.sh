#!/bin/sh
# Shrinks the GPU machine's package kits (.device/debs, .device-audio/debs) so that .device,
# .device-audio and the data of a demo fit together in the device tool's 64 MiB carry: each
# package is repacked without static archives (ssmkit links the shared libraries; Check,
# which Debian ships static only, keeps its own), docs and man pages. env.sh unpacks the
# result with dpkg -x as before. Idempotent; run after tools/device_debs.sh and
# tools/device_audio_kit.sh.
set -eu
cd "$(dirname "$0")/.."
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
droppable() { # the files of an unpacked package that the GPU machine does not need
  find "$1/usr" \( -name '*.a' ! -name 'libcheck*.a' -o -path '*/usr/share/doc/*' \
    -o -path '*/usr/share/man/*' \) \( -type f -o -type l \) 2>/dev/null
}
for d in .device/debs .device-audio/debs; do
  [ -d "$d" ] || continue
  chmod u+w "$d"
  for f in "$d"/*.deb; do
    rm -rf "$W/p"; dpkg-deb -R "$f" "$W/p"
    [ -z "$(droppable "$W/p" | head -1)" ] && continue
    droppable "$W/p" | xargs -d '\n' rm -f
    rm -f "$W/p/DEBIAN/md5sums" # lists the removed files; dpkg -x does not read it
    chmod u+w "$f"; dpkg-deb -Zxz -b "$W/p" "$f" > /dev/null
  done
done
du -sh .device .device-audio 2>/dev/null || true # (no .device-audio: not an error)
