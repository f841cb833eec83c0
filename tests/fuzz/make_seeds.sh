#!/bin/bash
# Writes the seed corpora tests/fuzz/seeds/<target>/ (committed; rerun only to change
# them): tiny valid files of each format, a few with the edge cases the readers handle
# (missing values, quoting, gzip, big-endian PLY, ModelNet's OFF header quirk). Needs
# python3, gzip and sox (FLAC and Ogg/Vorbis).
set -euo pipefail
cd "$(dirname "$0")/../.."
S=tests/fuzz/seeds
rm -rf "$S"; mkdir -p "$S"
for t in config idx png series_csv ucr_tsv ucr_ts checkpoint audio pc_off pc_ply pc_text \
         mil_musk mil_clam; do mkdir -p "$S/$t"; done

# config: the first line is one --set, the rest a config of the repository
i=0
for f in configs/image/fashion_mnist.yaml configs/series/etth1_96.yaml configs/mil/musk1.yaml \
         configs/points/modelnet40.yaml configs/audio/speech_commands.yaml \
         configs/series/ucr_example.yaml; do
  sets=(optim.lr=0.001 train.epochs=2 adapter.orders=[identity,reverse] data.num_points=512
        data.fbank.num_mel_bins=64 task.num_classes=3)
  { echo "${sets[$i]}"; cat "$f"; } > "$S/config/$(basename "$f")"; i=$((i+1))
done
printf '\ndata:\n  name: ett\n  window: 96\n' > "$S/config/no_set.yaml"

python3 - "$S" <<'PY'
import gzip, json, struct, sys, zlib
S = sys.argv[1]
def w(path, data):
    open(f"{S}/{path}", "wb").write(data if isinstance(data, bytes) else data.encode())
# IDX: 3 images of 4x3 and 3 labels; one gzip'd
img = struct.pack(">IIII", 0x803, 3, 4, 3) + bytes(range(36))
w("idx/images", img); w("idx/labels", struct.pack(">II", 0x801, 3) + bytes([0, 9, 4]))
w("idx/images.gz", gzip.compress(img, mtime=0))
# PNG: gray 3x2 8-bit, RGBA 2x2, palette 2x1
def png(wd, ht, ctype, rows, plte=b""):
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    raw = b"".join(b"\0" + r for r in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", wd, ht, 8, ctype, 0, 0, 0))
            + (chunk(b"PLTE", plte) if plte else b"") + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))
w("png/gray.png", png(3, 2, 0, [b"\0\x80\xff", b"\x10\x20\x30"]))
w("png/rgba.png", png(2, 2, 6, [bytes(range(8)), bytes(range(8, 16))]))
w("png/palette.png", png(2, 1, 3, [b"\0\1"], plte=b"\xff\0\0\0\0\xff"))
# forecasting CSV
w("series_csv/ett.csv", "date,HUFL,HULL,OT\n2016-07-01 00:00:00,5.827,2.009,30.531\n"
  "2016-07-01 01:00:00,5.693,2.076,27.787\n2016-07-01 02:00:00,5.157,1.741,27.787\n")
w("series_csv/quoted.csv", 'date,a,"b ""x""",OT\r\n1,1e-3,-2,3\r\n2,4,5,6\r\n\r\n')
# UCR .tsv (a pair after %%), UEA .ts
w("ucr_tsv/toy.tsv", "2\t1.0\t2.0\t3.0\t4.0\n-1\t0.5\tNaN\t1.5\tNaN\n10\t1\t2\t3\t4\n"
  "%%\n2\t1\t2\t3\t4\n10\t4\t3\t2\t1\n")
w("ucr_tsv/equal.tsv", "1\t0.1\t0.2\n2\t0.3\t0.4\n")
w("ucr_ts/uni.ts", "# a comment\n@problemName Toy\n@timeStamps false\n@missing true\n"
  "@univariate true\n@equalLength false\n@classLabel true b a c\n@data\n"
  "1,2,3:b\n4,?,6,7:a\n8:c\n%%\n@problemName Toy\n@missing false\n@classLabel true b a c\n"
  "@data\n1,2:a\n")
w("ucr_ts/multi.ts", "@problemName Multi\n@univariate false\n@dimensions 2\n@equalLength true\n"
  "@seriesLength 3\n@missing false\n@classLabel true x y\n@data\n1,2,3:4,5,6:x\n"
  "0.5,1e1,-2:3,2,1:y\n")
# safetensors checkpoints of fuzz_checkpoint's table (weight [2, 3], bias [3])
def st(tensors, meta):
    hdr, data = {"__metadata__": meta}, b""
    for name, shape, vals in tensors:
        b = struct.pack("<%df" % len(vals), *vals)
        hdr[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + len(b)]}
        data += b
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data
t = [("weight", [2, 3], [0.5, -1, 2, 0, 0.25, 3]), ("bias", [3], [1, 2, 3])]
meta = {"format": "pt", "step": "12", "epoch": "1", "best_metric": "0.75", "best_step": "10",
        "data_hash": "0011223344556677"}
w("checkpoint/plain.safetensors", st(t, meta))
opt = t + [("optim.m." + n, s, [0.1] * len(v)) for n, s, v in t] + \
      [("optim.v." + n, s, [0.01] * len(v)) for n, s, v in t]
w("checkpoint/optim.safetensors", st(opt, meta))
# WAV (first byte: 0 -> clip.wav, 4 -> resampled to 16 kHz), 8 kHz mono 16-bit and stereo
def wav(rate, ch, frames):
    pcm = struct.pack("<%dh" % (len(frames)), *frames)
    return (b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVEfmt " +
            struct.pack("<IHHIIHH", 16, 1, ch, rate, rate * ch * 2, ch * 2, 16) + b"data" +
            struct.pack("<I", len(pcm)) + pcm)
w("audio/mono.wav", b"\0" + wav(8000, 1, [0, 1000, -1000, 32767, -32768, 5, 6, 7]))
w("audio/stereo_resampled.wav", b"\4" + wav(22050, 2, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]))
# OFF: ModelNet's quirk and a plain one with a quad and a comment
w("pc_off/quirk.off", "OFF4 2 0\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n3 0 1 2\n3 0 1 3\n")
w("pc_off/quad.off", "OFF\n# quad\n4 1 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n4 0 1 2 3\n")
# PLY: ASCII with normals and a face, binary little- and big-endian
hdr = ("ply\nformat {}\nelement vertex 3\nproperty float x\nproperty float y\n"
       "property float z\n{}element face 1\nproperty list uchar int vertex_indices\nend_header\n")
w("pc_ply/ascii.ply", hdr.format("ascii 1.0", "property float nx\nproperty float ny\n"
  "property float nz\n") + "0 0 0 0 0 1\n1 0 0 0 0 1\n0 1 0 0 0 1\n3 0 1 2\n")
for fmt, e in (("binary_little_endian 1.0", "<"), ("binary_big_endian 1.0", ">")):
    body = struct.pack(e + "9f", 0, 0, 0, 1, 0, 0, 0, 1, 0) + struct.pack(e + "B3i", 3, 0, 1, 2)
    w("pc_ply/%s.ply" % e.replace("<", "le").replace(">", "be"), hdr.format(fmt, "").encode() + body)
# point text: ModelNet's x,y,z,nx,ny,nz; ShapeNetPart's 7 with a label; plain xyz
w("pc_text/modelnet.txt", "0.1,0.2,0.3,0,0,1\n-0.1,0.5,0.25,0,1,0\n")
w("pc_text/shapenet.txt", "0.1 0.2 0.3 0 0 1 4\n0.2 0.1 0 1 0 0 5\n")
w("pc_text/plain.xyz", "1 2 3\n4 5 6\n7 8 9\n")
# Musk CSV
w("mil_musk/tiny.csv", "0,b1,1.0,2.0\n1, b2 ,3,4\n0,b1,5,6e0\n")
# CLAM dataset CSV (the synthetic slides fuzz_mil_clam writes) %% splits CSV
w("mil_clam/clam.csv", "case_id,slide_id,label\nc0,slide_0000,normal\nc1,slide_0001,tumor\n"
  "c2,slide_0002,normal\nc3,slide_0003,tumor\n%%\n,train,val,test\n0,slide_0000,slide_0001,"
  "slide_0002\n1,slide_0003,,\n")
w("mil_clam/extra_columns.csv", "slide_id,label,case_id,site\nslide_0001,tumor,c1,x\n"
  "slide_0000,normal,c0,y\n%%\ntrain,test\nslide_0000,slide_0001\n")
PY
# FLAC and Ogg/Vorbis from the mono WAV (fuzz_audio's first byte: 1 -> .flac, 2 -> .ogg)
tmp=$(mktemp -d)
tail -c +2 "$S/audio/mono.wav" > "$tmp/m.wav"
sox "$tmp/m.wav" "$tmp/m.flac" && { printf '\1'; cat "$tmp/m.flac"; } > "$S/audio/mono.flac"
sox "$tmp/m.wav" -r 8000 "$tmp/m.ogg" && { printf '\2'; cat "$tmp/m.ogg"; } > "$S/audio/mono.ogg"
rm -rf "$tmp"
# predict's series inputs: history CSVs whose first column is time (fuzz_series_stamps),
# plain CSVs of one series, the first byte the channels - 1 (fuzz_series_plain)
mkdir -p "$S/series_stamps" "$S/series_plain"
python3 - "$S" <<'PY'
import sys
S = sys.argv[1]
def w(path, data):
    open(f"{S}/{path}", "wb").write(data.encode())
w("series_stamps/ett.csv", "date,a,OT\n2016-07-01 00:00:00,1,2\n2016-07-01 01:00:00,3,4\n"
  "2016-07-01 02:00:00,5,6\n")
w("series_stamps/exchange.csv", "date,OT\n1990/1/8 0:00,1\n1990/1/9 0:00,2\n")
w("series_stamps/month_end.csv", "date,OT\n2019-08-31,1\n2019-11-30,2\n2020-02-29,3\n")
w("series_stamps/iso.csv", "date,OT\n2020-12-31T23:40Z,1\n2020-12-31T23:50Z,2\n")
w("series_stamps/index.csv", "t,OT\n100,1\n105,2\n110,3\n")
w("series_stamps/gap.csv", "date,OT\n2016-07-01 00:00,1\n2016-07-01 02:00,2\n2016-07-01 03:00,3\n")
w("series_stamps/y9999.csv", "date,OT\n9999-12-31 22:00:00,1\n9999-12-31 23:00:00,2\n")
w("series_plain/two.csv", "\x02x,y\n1,2\n3,4.5\n\n-5,6\n")
w("series_plain/column.csv", "\x00value\n1\n2\n3\n")
w("series_plain/row.csv", "\x000.5,1.5,2.5\n")
w("series_plain/bad.csv", "\x01a,b\r\n1,nan\r\n")
PY
du -sh "$S"
