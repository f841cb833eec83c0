#!/usr/bin/env python3
"""ssmkit's CUDA selective scan against mamba_ssm's, side by side in one run (issue 15).

Builds mamba_ssm's selective_scan CUDA extension from its upstream sources
(third_party/mamba_src/, made by tools/fetch_mamba_src.sh) with torch.utils.cpp_extension:
sm_90 only, and only the fp32 and bf16 real-weight kernels (the .cpp's type dispatch is cut
down to those in a patched copy; the upstream files are read, never edited). Then runs
ssmkit's bench (build-cuda/bench/scan_cuda --csv) for its table and times mamba_ssm's fwd and
bwd at the same shapes and dtypes, with inputs drawn from the same ranges, and prints

    | B | D | L | N | dtype | ssmkit fwd | mamba_ssm fwd | ratio | ssmkit bwd | mamba_ssm bwd | ratio | ssmkit path |

ratio = mamba_ssm time / ssmkit time (> 1: ssmkit faster). build_causal_conv1d builds
causal-conv1d's extension the same way (dispatch and instantiations cut to fp32 / bf16 inputs
with fp32 weights), for bench/vim_step_torch.py's training step. Both sides: chunk of states,
G = 1 (variable B, C of shape [B, 1, N, L]), z, D, delta bias, softplus, median of CUDA-event
timed calls after warm-up. mamba_ssm's fwd returns new tensors each call and its bwd allocates
its gradients (PyTorch's caching allocator: no cudaMalloc in the timed loop) and casts dB, dC
to the input dtype; ssmkit's accumulates into preallocated fp32 dB, dC. Both are what a
caller of each gets.

    python3 bench/compare_mamba_ssm.py [--src third_party/mamba_src] [--build build-cuda/mamba_ext]
        [--ssmkit build-cuda/bench/scan_cuda] [--reps 30] [--build-only] [--skip-ssmkit CSV]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time


def dispatch_macros(prefix, weight_what):
    """Dispatch macros taking fp32 / bf16 inputs and fp32 weights only: what the benches call
    (upstream's dispatch also instantiates fp16 and complex, which only lengthen the build)."""
    return rf"""
#define {prefix}_DISPATCH_ITYPE(ITYPE, NAME, ...)                                  \
    if (ITYPE == at::ScalarType::BFloat16) {{                                          \
        using input_t = at::BFloat16;                                                 \
        __VA_ARGS__();                                                                \
    }} else if (ITYPE == at::ScalarType::Float) {{                                      \
        using input_t = float;                                                        \
        __VA_ARGS__();                                                                \
    }} else {{                                                                          \
        AT_ERROR(#NAME, " built for fp32 and bf16 inputs only (bench/compare_mamba_ssm.py)"); \
    }}
#define {prefix}_DISPATCH_WTYPE(WTYPE, NAME, ...)                                  \
    if (WTYPE == at::ScalarType::Float) {{                                             \
        using weight_t = float;                                                       \
        __VA_ARGS__();                                                                \
    }} else {{                                                                          \
        AT_ERROR(#NAME, " built for {weight_what} only (bench/compare_mamba_ssm.py)"); \
    }}
"""


def cut_dispatch(cpp, what, header, prefix, weight_what, calls, n_each):
    """cpp with its n_each input and n_each weight dispatch calls (calls: the two upstream
    call prefixes) replaced by prefix's macros, defined after header's include."""
    n = [len(re.findall(re.escape(c), cpp)) for c in calls]
    if n != [n_each, n_each]:
        sys.exit(f"{what}: expected {n_each} + {n_each} dispatch calls, found {n[0]} + {n[1]} "
                 "(another version? tools/fetch_mamba_src.sh pins the one this reads)")
    for c, kind in zip(calls, ("ITYPE", "WTYPE")):
        cpp = cpp.replace(c, f"{prefix}_DISPATCH_{kind}(" + c.split("(", 1)[1])
    inc = f'#include "{header}"'
    return cpp.replace(inc, inc + "\n" + dispatch_macros(prefix, weight_what), 1)


def writer(build, out):
    """write(name, text) into build, appending the path to out; an unchanged file is not
    rewritten (ninja's timestamps)."""
    os.makedirs(build, exist_ok=True)

    def write(name, text):
        path = os.path.join(build, name)
        if not os.path.exists(path) or open(path).read() != text:
            open(path, "w").write(text)
        out.append(path)
    return write


def patched_sources(src, build):
    """The .cpp with its dispatch cut to fp32/bf16 inputs and real fp32 weights, and one
    instantiation file per (direction, dtype), written into the build folder."""
    ss = os.path.join(src, "mamba_ssm", "selective_scan")
    cpp = open(os.path.join(ss, "selective_scan.cpp")).read()
    cpp = cut_dispatch(cpp, "selective_scan.cpp", "selective_scan.h", "SSMKIT", "real fp32 weights",
                       ("DISPATCH_ITYPE_FLOAT_AND_HALF_AND_BF16(u.scalar_type()",
                        "DISPATCH_WTYPE_FLOAT_AND_COMPLEX(A.scalar_type()"), 2)
    out = []
    write = writer(build, out)
    write("selective_scan.cpp", cpp)
    for kind, hdr, params in (("fwd", "selective_scan_fwd_kernel.cuh", "SSMParamsBase"),
                              ("bwd", "selective_scan_bwd_kernel.cuh", "SSMParamsBwd")):
        for name, t in (("fp32", "float"), ("bf16", "at::BFloat16")):
            write(f"selective_scan_{kind}_{name}.cu",
                  f'#include "{hdr}"\n'
                  f"template void selective_scan_{kind}_cuda<{t}, float>({params} &params, "
                  "cudaStream_t stream);\n")
    return ss, out


# upstream's nvcc flags (both packages' setup.py), for sm_90 only
NVCC_FLAGS = ["-O3", "-std=c++17", "-U__CUDA_NO_HALF_OPERATORS__", "-U__CUDA_NO_HALF_CONVERSIONS__",
              "-U__CUDA_NO_BFLOAT16_OPERATORS__", "-U__CUDA_NO_BFLOAT16_CONVERSIONS__",
              "-U__CUDA_NO_BFLOAT162_OPERATORS__", "-U__CUDA_NO_BFLOAT162_CONVERSIONS__",
              "--expt-relaxed-constexpr", "--expt-extended-lambda", "--use_fast_math", "-lineinfo",
              "-gencode", "arch=compute_90,code=sm_90"]


def load_patched(name, what, inc, sources, build):
    import torch.utils.cpp_extension as ce
    os.environ.setdefault("TORCH_CUDA_ARCH_LIST", "9.0")
    os.environ.setdefault("MAX_JOBS", str(os.cpu_count() or 8))
    t0 = time.time()
    mod = ce.load(name=name, sources=sources, extra_cflags=["-O3", "-std=c++17"],
                  extra_cuda_cflags=NVCC_FLAGS, extra_include_paths=[os.path.abspath(inc)],
                  build_directory=build, verbose=False)
    print(f"{what} extension (sm_90, fp32 + bf16): built or loaded in {time.time() - t0:.0f} s "
          f"({os.environ['MAX_JOBS']} jobs)", flush=True)
    return mod


def build_extension(src, build):
    inc, sources = patched_sources(src, build)
    return load_patched("ssmkit_mamba_selective_scan", "mamba_ssm selective_scan", inc, sources, build)


# causal-conv1d's dispatch cut to what mamba_ssm's inner function asks for under fp32 and bf16
# autocast: fp32 or bf16 activations, the fp32 weights of an nn.Conv1d
CONV_TYPES = (("float", "float"), ("at::BFloat16", "float"))


def patched_conv_sources(src, build):
    """causal-conv1d's csrc with its .cpp dispatch and the .cu files' explicit instantiations
    cut to CONV_TYPES (input, weight), written into the build folder (upstream untouched)."""
    cs = os.path.join(src, "causal_conv1d", "csrc")
    cpp = open(os.path.join(cs, "causal_conv1d.cpp")).read()
    cpp = cut_dispatch(cpp, "causal_conv1d.cpp", "causal_conv1d.h", "SSMKIT_CONV",
                       "fp32 weights", ("DISPATCH_ITYPE_FLOAT_AND_HALF_AND_BF16(x.scalar_type()",
                                        "DISPATCH_WTYPE_FLOAT_AND_HALF_AND_BF16(weight.scalar_type()"),
                       3)
    out = []
    write = writer(build, out)
    write("causal_conv1d.cpp", cpp)
    inst = re.compile(r"^template void \w+<([^>]*)>\(")
    for name in ("causal_conv1d_fwd.cu", "causal_conv1d_bwd.cu", "causal_conv1d_update.cu"):
        kept, dropped = [], 0
        for line in open(os.path.join(cs, name)).read().split("\n"):
            m = inst.match(line)
            if m and tuple(t.strip() for t in m.group(1).split(",")) not in CONV_TYPES:
                dropped += 1
                continue
            kept.append(line)
        if dropped == 0:
            sys.exit(f"{name}: no explicit instantiations found to cut (another causal-conv1d "
                     "version? tools/fetch_mamba_src.sh pins the one this reads)")
        write(name, "\n".join(kept))
    return cs, out


def build_causal_conv1d(src, build):
    inc, sources = patched_conv_sources(src, build)
    return load_patched("ssmkit_causal_conv1d", "causal-conv1d", inc, sources, build)


def median_ms(torch, f, warm, reps):
    for _ in range(warm):
        f()
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record()
    f()
    b.record()
    b.synchronize()
    reps = max(3, min(reps, int(1500.0 / max(a.elapsed_time(b), 1e-3))))  # as bench/scan_cuda
    ts = []
    for _ in range(reps):
        a.record()
        f()
        b.record()
        b.synchronize()
        ts.append(a.elapsed_time(b))
    return statistics.median(ts)


def time_mamba(torch, mod, B, D, L, N, dtype, reps):
    dev = "cuda"
    dt = torch.bfloat16 if dtype == "bf16" else torch.float32
    g = torch.Generator(device=dev).manual_seed(1234)

    def rnd(shape, lo, hi, t=dt):
        return (torch.rand(shape, device=dev, generator=g, dtype=torch.float32) * (hi - lo) + lo).to(t)

    u, delta, z = rnd((B, D, L), -1, 1), rnd((B, D, L), -4, 0.5), rnd((B, D, L), -2, 2)
    Bm, Cm, dout = rnd((B, 1, N, L), -1, 1), rnd((B, 1, N, L), -1, 1), rnd((B, D, L), -1, 1)
    A = rnd((D, N), -4, -0.5, torch.float32)
    Dk, bias = rnd((D,), -1, 1, torch.float32), rnd((D,), -3, -1, torch.float32)
    res = mod.fwd(u, delta, A, Bm, Cm, Dk, z, bias, True)
    out, x = res[0], res[1]
    fwd = lambda: mod.fwd(u, delta, A, Bm, Cm, Dk, z, bias, True)
    bwd = lambda: mod.bwd(u, delta, A, Bm, Cm, Dk, z, bias, dout, x, out, None, True, False)
    f = median_ms(torch, fwd, 3, reps)
    b = median_ms(torch, bwd, 2, reps)
    del u, delta, z, Bm, Cm, dout, A, Dk, bias, res, out, x
    torch.cuda.empty_cache()
    return f, b


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default="third_party/mamba_src")
    ap.add_argument("--build", default="build-cuda/mamba_ext")
    ap.add_argument("--ssmkit", default="build-cuda/bench/scan_cuda")
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument("--skip-ssmkit", metavar="CSV",
                    help="read ssmkit's rows from this file (scan_cuda --csv) instead of running it")
    args = ap.parse_args()
    if not os.path.isdir(os.path.join(args.src, "mamba_ssm", "selective_scan")):
        sys.exit(f"{args.src}: no mamba_ssm/selective_scan (run tools/fetch_mamba_src.sh here first)")
    import torch
    mod = build_extension(args.src, args.build)
    if args.build_only:
        return
    if args.skip_ssmkit:
        text = open(args.skip_ssmkit).read()
    else:
        t0 = time.time()
        env = dict(os.environ)  # the loader path ssmkit was built for (compare_mamba_ssm.sh)
        if "SSMKIT_BENCH_LD_LIBRARY_PATH" in env:
            env["LD_LIBRARY_PATH"] = env["SSMKIT_BENCH_LD_LIBRARY_PATH"]
        text = subprocess.run([args.ssmkit, str(args.reps), "--csv", "--no-other"], check=True,
                              capture_output=True, text=True, env=env).stdout
        print(f"ssmkit bench: {time.time() - t0:.0f} s", flush=True)
    rows = []
    for line in text.splitlines():
        if line.startswith("#"):
            print(line[2:])
            continue
        if not line or line.startswith("B,"):
            continue
        B, D, L, N, dtype, path, f, b = line.split(",")[:8]
        rows.append((int(B), int(D), int(L), int(N), dtype, path, float(f), float(b)))
    if not rows:
        sys.exit("no rows from ssmkit's bench")
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}; ratio = mamba_ssm ms / "
          "ssmkit ms (> 1: ssmkit faster)\n")
    print("| B | D | L | N | dtype | ssmkit fwd ms | mamba_ssm fwd ms | fwd ratio | ssmkit bwd ms "
          "| mamba_ssm bwd ms | bwd ratio | ssmkit path |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for B, D, L, N, dtype, path, f, b in rows:
        mf, mb = time_mamba(torch, mod, B, D, L, N, dtype, args.reps)
        print(f"| {B} | {D} | {L} | {N} | {dtype} | {f:.3f} | {mf:.3f} | {mf / f:.2f} | {b:.3f} "
              f"| {mb:.3f} | {mb / b:.2f} | {path} |", flush=True)


if __name__ == "__main__":
    main()
