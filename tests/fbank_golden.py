#!/usr/bin/env python3
# Writes the golden fixtures of tests/test_fbank.c: torchaudio's Kaldi fbank
# (torchaudio.compliance.kaldi.fbank, what AST, AuM, SSAMBA and DASS call) on
# short real clips (a spoken digit from Debian's asterisk-core-sounds-en-wav,
# a sound-icons sample) and generated ones (a chirp, noise at 8 kHz resampled
# to 16 kHz by torchaudio, silence then a tone), under several option sets.
# Run once on a machine with torch + torchaudio from PyPI and the two Debian
# packages; the fixtures are committed, so the C test needs neither.
#
#   python3 -m venv /tmp/tv && /tmp/tv/bin/pip install torch torchaudio numpy
#   apt-get install asterisk-core-sounds-en-wav sound-icons
#   /tmp/tv/bin/python tests/fbank_golden.py            # writes tests/fixtures/fbank/
#
# File format (.fbk, little-endian): "SSMFBK01", uint32 T, T bytes of ASCII
# "key=value ..." text, uint32 rows, uint32 cols, rows * cols values of the
# text's dtype (s16: int16 PCM, the sample is v / 32768; f32: float32).
# An input clip is one row of samples (keys: kind=input sample_rate source);
# an output holds [frames, bins] (keys: kind=fbank input=<file>, torch_dtype
# (float64: the exact reference; float32: what AST runs) and every option,
# named as torchaudio names them, plus remove_dc_clip: AST's
# `waveform - waveform.mean()` before the call). index.txt lists the outputs.
import os
import struct
import sys
import wave

import numpy as np
import torch
import torchaudio
import torchaudio.compliance.kaldi as kaldi

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "fbank")
DIGIT = "/usr/share/asterisk/sounds/en_US_f_Allison/digits/7.wav"
ICON = "/usr/share/sounds/sound-icons/cembalo-1.wav"

# torchaudio's defaults as AST calls it (htk_compat and use_energy=False: no
# energy column); each case overrides some.
AST = dict(sample_frequency=16000.0, frame_length=25.0, frame_shift=10.0,
           round_to_power_of_two=True, remove_dc_clip=True, remove_dc_offset=True,
           preemphasis_coefficient=0.97, window_type="hanning", blackman_coeff=0.42,
           num_mel_bins=128, low_freq=20.0, high_freq=0.0, use_power=True,
           use_log_fbank=True, snip_edges=True, subtract_mean=False)


def write_fbk(name, text, arr, dtype):
    arr = np.ascontiguousarray(arr)
    if arr.ndim == 1:
        arr = arr[None, :]
    t = (text + " dtype=" + dtype).encode("ascii")
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(b"SSMFBK01")
        f.write(struct.pack("<I", len(t)))
        f.write(t)
        f.write(struct.pack("<II", arr.shape[0], arr.shape[1]))
        f.write(arr.astype("<i2" if dtype == "s16" else "<f4").tobytes())


def read_wav_s16(path, start, count):
    if not os.path.exists(path):
        sys.exit(f"{path} missing: apt-get install asterisk-core-sounds-en-wav sound-icons")
    with wave.open(path) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1, path
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return x[start:start + count].copy(), rate


def quantize(x):
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def fbank(wave_f32, o, dtype):
    w = torch.from_numpy(wave_f32.astype(np.float32)).to(dtype)[None, :]
    if o["remove_dc_clip"]:
        w = w - w.mean()
    args = {k: v for k, v in o.items() if k != "remove_dc_clip"}
    return kaldi.fbank(w, dither=0.0, use_energy=False, htk_compat=True, **args).double().numpy()


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(12)
    inputs = {}  # name -> (float32 samples, rate)

    def add_input(name, samples, rate, source):
        if samples.dtype == np.int16:
            write_fbk(name + ".in.fbk", f"kind=input sample_rate={rate} source={source}",
                      samples, "s16")
            x = samples.astype(np.float32) / np.float32(32768.0)
        else:
            write_fbk(name + ".in.fbk", f"kind=input sample_rate={rate} source={source}",
                      samples.astype(np.float32), "f32")
            x = samples.astype(np.float32)
        inputs[name] = (x, rate)

    # real clips: 0.3 s of "seven" (8 kHz), and torchaudio's 16 kHz resampling
    # of it (what the pipeline feeds fbank); 0.3 s of a harpsichord note
    d8, r8 = read_wav_s16(DIGIT, 1200, 2400)
    add_input("digit7_8k", d8, r8, "asterisk-core-sounds-en-wav:digits/7.wav[1200:3600]")
    d16 = torchaudio.functional.resample(torch.from_numpy(d8.astype(np.float32) / 32768.0),
                                         8000, 16000).numpy()
    add_input("digit7_16k", d16, 16000, "digit7_8k,torchaudio.functional.resample(8000,16000)")
    ic, ri = read_wav_s16(ICON, 0, 4800)
    add_input("cembalo", ic, ri, "sound-icons:cembalo-1.wav[0:4800]")
    # generated: a logarithmic chirp 50 Hz -> 7.5 kHz, 0.4 s
    t = np.arange(6400) / 16000.0
    f0, f1, T = 50.0, 7500.0, 0.4
    k = np.log(f1 / f0) / T
    add_input("chirp", quantize(0.5 * np.sin(2 * np.pi * f0 * (np.exp(k * t) - 1) / k)), 16000,
              "generated:chirp")
    # white noise at 8 kHz, 0.25 s after resampling to 16 kHz (nothing above 4 kHz)
    n8 = rng.normal(0.0, 0.1, 2000).astype(np.float32)
    n16 = torchaudio.functional.resample(torch.from_numpy(n8), 8000, 16000).numpy()
    add_input("noise8k", n16, 16000, "generated:noise(8000)+torchaudio.resample(16000)")
    # 0.15 s of digital silence, then 0.2 s of a 1 kHz tone
    tone = np.zeros(5600)
    tone[2400:] = 0.3 * np.sin(2 * np.pi * 1000.0 * np.arange(3200) / 16000.0)
    add_input("silence_tone", quantize(tone), 16000, "generated:silence+tone")

    cases = [
        ("digit7_16k", "ast", {}),
        ("digit7_16k", "povey", dict(window_type="povey")),
        ("digit7_8k", "kaldi8k", dict(sample_frequency=8000.0, window_type="povey",
                                      num_mel_bins=23, remove_dc_clip=False)),
        ("cembalo", "ast", {}),
        ("cembalo", "hamming_nopow2_noedges", dict(window_type="hamming", round_to_power_of_two=False,
                                                   snip_edges=False, low_freq=64.0, high_freq=-400.0,
                                                   num_mel_bins=80)),
        ("chirp", "ast", {}),
        ("chirp", "blackman_mag", dict(window_type="blackman", use_power=False, num_mel_bins=64,
                                       preemphasis_coefficient=0.0, remove_dc_offset=False)),
        ("noise8k", "ast", {}),
        ("noise8k", "linear", dict(use_log_fbank=False, window_type="povey")),
        ("silence_tone", "ast", {}),
        ("silence_tone", "cms", dict(subtract_mean=True)),
        ("silence_tone", "rect_20ms_5ms", dict(window_type="rectangular", frame_length=20.0,
                                                frame_shift=5.0, num_mel_bins=40, snip_edges=False)),
    ]
    # torch in float32 (what AST runs) is, on the quiet bins of a frame (60+ dB
    # below its loudest), only as exact as float32 FFT rounding allows: up to
    # 1e-2 in log units on the generated clips' near-silent bins. The
    # reference semantics is therefore torch in float64 (the same code, exact
    # arithmetic; the floor stays FLT_EPSILON), for every case; the float32
    # results are kept as well for the clips where float32 torch is itself
    # within 1e-3 of exact (real recordings, noise), the case AST runs.
    keep_f32 = {("digit7_16k", "ast"), ("cembalo", "ast"), ("noise8k", "ast")}
    index, notes = [], []
    for clip, tag, over in cases:
        o = dict(AST)
        o.update(over)
        x, rate = inputs[clip]
        if "sample_frequency" not in over:
            o["sample_frequency"] = float(rate)
        assert o["sample_frequency"] == rate, (clip, tag)
        f64 = fbank(x, o, torch.float64)
        f32 = fbank(x, o, torch.float32)
        spread = np.abs(f32 - f64).max()
        if not o["use_log_fbank"]:
            spread /= np.abs(f64).max()
        opts = " ".join(f"{k}={int(v) if isinstance(v, bool) else v}" for k, v in o.items())
        name = f"{clip}.{tag}.fbk"
        write_fbk(name, f"kind=fbank input={clip}.in.fbk torch_dtype=float64 {opts}", f64, "f32")
        index.append(name)
        if (clip, tag) in keep_f32:
            assert spread <= 1e-3, (clip, tag, spread)
            name32 = f"{clip}.{tag}.f32.fbk"
            write_fbk(name32, f"kind=fbank input={clip}.in.fbk torch_dtype=float32 {opts}", f32, "f32")
            index.append(name32)
        notes.append(f"# {name}: torch float32 vs float64: max |diff| {spread:.2e}"
                     + (" (relative to the peak)" if not o["use_log_fbank"] else ""))
        print(f"{name}: {f64.shape[0]} frames x {f64.shape[1]} bins, "
              f"range {f64.min():.3f} .. {f64.max():.3f}, float32 torch off by {spread:.2e}")
    with open(os.path.join(OUT, "index.txt"), "w") as f:
        f.write(f"# torch {torch.__version__}, torchaudio {torchaudio.__version__}\n")
        f.write("\n".join(notes) + "\n")
        f.write("\n".join(index) + "\n")
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"{len(index)} cases, {total} bytes in {OUT}")


if __name__ == "__main__":
    main()
