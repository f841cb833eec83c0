#!/bin/bash
# Makes .device-audio/ (git-ignored): what tools/make_keyword_set.sh needs on the GPU machine,
# which has no package registry and none of its tools. Debian's espeak-ng, flite and sox with
# the libraries they load that the GPU machine lacks, and the asterisk recordings the script
# reads: the ten digits and the first 120 prompts (8 MB, not the 18 MB package). Run here
# (after `apt-get install asterisk-core-sounds-en-wav`); carry .device-audio beside .device
# and on the device:  source .device-audio/env.sh && tools/make_keyword_set.sh DIR
# (about 28 MB; .device is about 31 MB, so leave other carries out of that call).
set -euo pipefail
cd "$(dirname "$0")/.."
K=.device-audio
SOUNDS=/usr/share/asterisk/sounds/en
[ -f $SOUNDS/digits/0.wav ] || { echo "device_audio_kit: apt-get install asterisk-core-sounds-en-wav first" >&2; exit 1; }
rm -rf $K && mkdir -p $K/debs $K/sounds/digits
(cd $K/debs && apt-get download espeak-ng libespeak-ng1 espeak-ng-data libsonic0 flite libflite1 \
   libasound2 libasound2-data sox libsox3 libgsm1 libmagic1 libmagic-mgc 2>&1 | grep -v "^W: Download is performed unsandboxed" || true)
cp $SOUNDS/digits/[0-9].wav $K/sounds/digits/
# the same 120 prompts (in ls order) as the script's babble noise
cp $(ls $SOUNDS/*.wav | head -120) $K/sounds/
cat > $K/env.sh <<'ENV'
# Sourced on the GPU machine from the project root (tools/device_audio_kit.sh made it).
AUDIO_SYSROOT=${AUDIO_SYSROOT:-/tmp/audio-sysroot}
kit=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ ! -e "$AUDIO_SYSROOT/.done" ]; then
  mkdir -p "$AUDIO_SYSROOT"
  for f in "$kit"/debs/*.deb; do dpkg -x "$f" "$AUDIO_SYSROOT"; done
  # libpcaudio (espeak-ng's sound output) would pull in PulseAudio and X11; `espeak-ng -w`
  # never opens a device, so a stub that refuses every call stands in for it
  printf '%s\n' '#include <stddef.h>' 'void *create_audio_device_object(const char *d, const char *a, const char *n) { (void)d; (void)a; (void)n; return NULL; }' \
    'int audio_object_open(void *o, int f, unsigned r, unsigned char c) { (void)o; (void)f; (void)r; (void)c; return -1; }' \
    'void audio_object_close(void *o) { (void)o; }' 'void audio_object_destroy(void *o) { (void)o; }' \
    'int audio_object_write(void *o, const void *d, size_t b) { (void)o; (void)d; (void)b; return -1; }' \
    'int audio_object_drain(void *o) { (void)o; return -1; }' 'int audio_object_flush(void *o) { (void)o; return -1; }' \
    'const char *audio_object_strerror(void *o, int e) { (void)o; (void)e; return "no audio output"; }' \
    > "$AUDIO_SYSROOT/pcaudio_stub.c"
  gcc -shared -fPIC -Wl,-soname,libpcaudio.so.0 -o "$AUDIO_SYSROOT/usr/lib/x86_64-linux-gnu/libpcaudio.so.0" "$AUDIO_SYSROOT/pcaudio_stub.c"
  touch "$AUDIO_SYSROOT/.done"
fi
export PATH=$AUDIO_SYSROOT/usr/bin:$PATH
export LD_LIBRARY_PATH=$AUDIO_SYSROOT/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export ESPEAK_DATA_PATH=$AUDIO_SYSROOT/usr/lib/x86_64-linux-gnu   # the folder that holds espeak-ng-data/
export MAGIC=$AUDIO_SYSROOT/usr/lib/file/magic.mgc
export ASTERISK_SOUNDS=$kit/sounds
unset kit
ENV
du -sh $K
