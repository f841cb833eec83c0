#!/bin/bash
# Generates a keyword-spotting set in the Speech Commands v2 layout from Debian packages
# alone (no download): configs/audio/keywords.yaml trains on it (docs/datasets.md,
# "The generated keyword set").
#
#   tools/make_keyword_set.sh OUT_DIR [SEED]      (JOBS=N: speakers made N at a time, default
#                                                  all cores; the set does not depend on N)
#
#   OUT_DIR/<word>/<speaker>_nohash_<k>.wav   1 s, 16 kHz, 16-bit mono
#   OUT_DIR/validation_list.txt, testing_list.txt
#   OUT_DIR/_background_noise_/*.wav           60 s each: white, pink, brown noise and a
#                                              babble of real recorded speech
#   OUT_DIR/SPEAKERS.txt                       speaker id -> engine, voice, split
#
# Words: the 12-class protocol's ten commands (yes no up down left right on off stop go)
# and the ten digits (zero .. nine): 20 classes.
# Speakers (a speaker is one voice; its clips differ in speed, pitch, position and noise):
#   espeak-ng   8 English accents (en-us, en-gb, en-gb-scotland, en-gb-x-rp, en-gb-x-gbclan,
#               en-gb-x-gbcwmd, en-029, en-us-nyc) x 20 voice variants (male, female, klatt
#               formant voices, ...): 160 speakers
#   flite       kal, awb, rms, slt, each at 3 pitch shifts (sox): 12 speakers
#   asterisk    the real recorded digits of asterisk-core-sounds-en-wav (one human voice,
#               8 kHz telephone prompts) at 8 speed/pitch variants: 8 speakers, digits only
# Held out (the speakers of a split never speak in another, as in Speech Commands):
#   test        espeak variants m6 f4 klatt3 and every accent of them; flite awb
#   validation  espeak variants m7 f5; flite slt pitch shift +300 cents
#   the real digit recordings are training data only (one voice: it cannot be held out).
# Every clip: the word trimmed of silence, at a random offset inside the second, with
# pink noise 25 to 45 dB below it. The draws (speed, pitch, offset, level, noise level) come
# from bash's RANDOM seeded per speaker from SEED (default 1) and the speaker's place in the
# list, so any JOBS gives the same draws; sox's noise samples are its own (not seeded).
# Needs: espeak-ng flite sox asterisk-core-sounds-en-wav (apt-get install them).
set -euo pipefail

OUT=${1:?usage: tools/make_keyword_set.sh OUT_DIR [SEED]}
SEED=${2:-1}
for tool in espeak-ng flite sox; do
  command -v $tool >/dev/null || { echo "make_keyword_set: $tool missing (apt-get install espeak-ng flite sox asterisk-core-sounds-en-wav)" >&2; exit 1; }
done
SOUNDS=${ASTERISK_SOUNDS:-/usr/share/asterisk/sounds/en} # tools/device_audio_kit.sh points it elsewhere
DIGITS_DIR=$SOUNDS/digits
[ -f $DIGITS_DIR/0.wav ] || { echo "make_keyword_set: $DIGITS_DIR/0.wav missing (apt-get install asterisk-core-sounds-en-wav)" >&2; exit 1; }

WORDS=(yes no up down left right on off stop go zero one two three four five six seven eight nine)
ACCENTS=(en-us en-gb en-gb-scotland en-gb-x-rp en-gb-x-gbclan en-gb-x-gbcwmd en-029 en-us-nyc)
VARIANTS=(m1 m2 m3 m4 m5 m6 m7 m8 f1 f2 f3 f4 f5 klatt klatt2 klatt3 klatt4 Annie david steph)
TEST_VARIANTS=" m6 f4 klatt3 "
VAL_VARIANTS=" m7 f5 "
RENDITIONS=2 # clips per speaker and word

if [ -d "$OUT" ] && [ -n "$(ls -A "$OUT")" ] && [ ! -f "$OUT/SPEAKERS.txt" ]; then
  echo "make_keyword_set: $OUT is not empty and holds no earlier keyword set: refusing to write there" >&2
  exit 1
fi
mkdir -p "$OUT"
: > "$OUT/SPEAKERS.txt" # marks the folder as a keyword set's from the start (a rerun may clear it)
for w in "${WORDS[@]}"; do rm -rf "${OUT:?}/$w"; done
rm -rf "${OUT:?}/_background_noise_"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for w in "${WORDS[@]}"; do mkdir -p "$OUT/$w"; done

# speaker id: 8 hex digits of the md5 of its description (like Speech Commands' hashes)
speaker_id() { printf '%s' "$1" | md5sum | cut -c1-8; }

# finish RAW WORD SPEAKER K SPLIT: trim, place at a random offset in 1 s, add pink noise,
# 16 kHz 16-bit mono, and list it (in the job's own list files: $J/val, $J/test).
finish() {
  local raw=$1 word=$2 spk=$3 k=$4 split=$5
  local rel="$word/${spk}_nohash_$k.wav"
  sox "$raw" -r 16000 -c 1 "$J/t.wav" silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse \
    trim 0 0.95 2>/dev/null
  local len; len=$(soxi -D "$J/t.wav")
  # pre-pad: uniform in [0, 1 - len) seconds, in ms
  local room; room=$(awk -v l="$len" 'BEGIN { r = int((1 - l) * 1000); print (r > 0 ? r : 0) }')
  local pre=0; [ "$room" -gt 0 ] && pre=$((RANDOM % room))
  local snr=$((25 + RANDOM % 21)) # dB below the word's peak level
  sox -V1 "$J/t.wav" "$J/p.wav" pad "0.$(printf '%03d' $pre)" 1 trim 0 1 norm -$((1 + RANDOM % 12))
  sox -n -r 16000 -c 1 "$J/n.wav" synth 1 pinknoise vol "$(awk -v s=$snr 'BEGIN { print 10 ^ (-s / 20) }')"
  sox -m "$J/p.wav" "$J/n.wav" -b 16 "$OUT/$rel" trim 0 1
  case $split in
    val) echo "$rel" >> "$J/val" ;;
    test) echo "$rel" >> "$J/test" ;;
  esac
}

# One job a speaker: speaker JOB_INDEX KIND ARGS... writes its clips, its list lines and its
# SPEAKERS.txt line under $TMP/JOB_INDEX.
speaker() {
  local i=$1 kind=$2; shift 2
  J="$TMP/$i"; mkdir -p "$J"; : > "$J/val"; : > "$J/test"
  RANDOM=$((SEED * 7919 + i))
  local split=train spk w k
  case $kind in
    espeak) # accent variant
      [[ $TEST_VARIANTS == *" $2 "* ]] && split=test
      [[ $VAL_VARIANTS == *" $2 "* ]] && split=val
      spk=$(speaker_id "espeak-ng $1+$2")
      echo "$spk espeak-ng $1+$2 $split" > "$J/speaker"
      for w in "${WORDS[@]}"; do
        for ((k = 0; k < RENDITIONS; k++)); do
          espeak-ng -v "$1+$2" -s $((130 + RANDOM % 80)) -p $((25 + RANDOM % 50)) -w "$J/raw.wav" "$w"
          finish "$J/raw.wav" "$w" "$spk" "$k" "$split"
        done
      done ;;
    flite) # voice pitch-shift-in-cents
      [ "$1" = awb ] && split=test
      [ "$1" = slt ] && [ "$2" = 300 ] && split=val
      spk=$(speaker_id "flite $1 $2")
      echo "$spk flite $1 pitch$2 $split" > "$J/speaker"
      for w in "${WORDS[@]}"; do
        for ((k = 0; k < RENDITIONS; k++)); do
          flite -voice "$1" -t "$w" -o "$J/f.wav"
          sox "$J/f.wav" "$J/raw.wav" pitch $(($2 + RANDOM % 101 - 50)) \
            tempo $(awk -v r=$((RANDOM % 41)) 'BEGIN { print 0.8 + r / 100 }')
          finish "$J/raw.wav" "$w" "$spk" "$k" "$split"
        done
      done ;;
    digits) # variant (training only: one real voice cannot be held out)
      local DIGIT_WORDS=(zero one two three four five six seven eight nine) d
      spk=$(speaker_id "asterisk digits $1")
      echo "$spk asterisk-core-sounds-en-wav digits variant$1 train" > "$J/speaker"
      for d in 0 1 2 3 4 5 6 7 8 9; do
        for ((k = 0; k < RENDITIONS; k++)); do
          sox "$DIGITS_DIR/$d.wav" "$J/raw.wav" pitch $((RANDOM % 601 - 300)) \
            tempo $(awk -v r=$((RANDOM % 41)) 'BEGIN { print 0.8 + r / 100 }')
          finish "$J/raw.wav" "${DIGIT_WORDS[$d]}" "$spk" "$k" train
        done
      done ;;
  esac
}

# the speakers, in a fixed order (their index seeds their draws)
SPEAKERS=()
for acc in "${ACCENTS[@]}"; do for var in "${VARIANTS[@]}"; do SPEAKERS+=("espeak $acc $var"); done; done
for voice in kal awb rms slt; do for shift in -300 0 300; do SPEAKERS+=("flite $voice $shift"); done; done
for v in 0 1 2 3 4 5 6 7; do SPEAKERS+=("digits $v"); done
JOBS=${JOBS:-$(nproc)}
running=0
for i in "${!SPEAKERS[@]}"; do
  if [ $running -ge "$JOBS" ]; then wait -n || true; running=$((running - 1)); fi
  # shellcheck disable=SC2086 # the entry is the job's words
  ( speaker "$i" ${SPEAKERS[$i]}; touch "$TMP/$i/done" ) & # (no &&: it would switch set -e off inside)
  running=$((running + 1))
done
wait
for i in "${!SPEAKERS[@]}"; do
  [ -f "$TMP/$i/done" ] || { echo "make_keyword_set: speaker ${SPEAKERS[$i]} failed (see the messages above)" >&2; exit 1; }
done
: > "$OUT/validation_list.txt"; : > "$OUT/testing_list.txt"; : > "$OUT/SPEAKERS.txt"
for i in "${!SPEAKERS[@]}"; do
  cat "$TMP/$i/val" >> "$OUT/validation_list.txt"
  cat "$TMP/$i/test" >> "$OUT/testing_list.txt"
  cat "$TMP/$i/speaker" >> "$OUT/SPEAKERS.txt"
done
n=$(( $(find "${WORDS[@]/#/$OUT/}" -name '*.wav' | wc -l) ))
echo "make_keyword_set: $n clips from ${#SPEAKERS[@]} speakers" >&2

# background noise: synthetic colours and a babble of the real recorded prompts
NOISE="$OUT/_background_noise_"
mkdir -p "$NOISE"
for c in white pink brown; do
  sox -n -r 16000 -c 1 -b 16 "$NOISE/${c}_noise.wav" synth 60 ${c}noise vol 0.3
done
prompts=$(ls "$SOUNDS"/*.wav | head -120)
sox $prompts -r 16000 -c 1 "$TMP/talk.wav" 2>/dev/null
sox "$TMP/talk.wav" "$TMP/talk2.wav" reverse
sox "$TMP/talk.wav" "$TMP/talk3.wav" speed 1.1
sox -m "$TMP/talk.wav" "$TMP/talk2.wav" "$TMP/talk3.wav" -b 16 "$NOISE/babble.wav" trim 0 60 norm -6
sort -o "$OUT/validation_list.txt" "$OUT/validation_list.txt"
sort -o "$OUT/testing_list.txt" "$OUT/testing_list.txt"
echo "make_keyword_set: $n clips in $OUT ($(wc -l < "$OUT/validation_list.txt") validation, $(wc -l < "$OUT/testing_list.txt") test)" >&2
