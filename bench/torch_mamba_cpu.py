#!/usr/bin/env python3
"""PyTorch + mambapy CPU training step, the comparison for bench/backbone -step.

Needs only `pip install torch mambapy`; nothing in ssmkit's build or tests uses it.
bench/compare_torch_cpu.sh runs it interleaved with ssmkit's bench (docs/benchmarks.md,
"ssmkit vs PyTorch + mambapy on the CPU").

The model is ssmkit's backbone (backbone/mamba.h) at the same shape, built from
mambapy's own Vim module (mambapy.vim, VMamba with bidirectional=True,
divide_output=True): n_layers pre-norm residual blocks x + mixer(RMSNorm(x)); each
mixer has one in_proj (D -> 2E, no bias) and one out_proj (E -> D, no bias) shared
by the two directions, and per direction its own depthwise conv1d (width d_conv,
bias), x_proj (E -> dt_rank + 2N, no bias), dt_proj (dt_rank -> E, bias), A_log
[E, N] and D [E]; the second direction scans the reversed sequence, and the two
gated outputs are averaged before out_proj (Vim's "v2" layout). mambapy's VMamba
has no final norm; ssmkit's stack ends with norm_f, so one RMSNorm (mambapy's) is
appended here. Parameter count and GEMM FLOPs are then the same as ssmkit's.

One step = forward of a [B, L, D] input that requires grad (ssmkit's backward
also returns d input) + backward of a fixed output gradient; no optimizer on
either side. Parameter gradients accumulate across steps (+=) on both sides.

-check PREFIX (files from `build/bench/backbone ... -step -dump PREFIX`, same shape)
loads ssmkit's initial parameters into this model, runs one step on the same
input and output gradient, and prints the largest differences of the output, the
input gradient and every parameter gradient against ssmkit's: the evidence that
the two sides compute the same function.

Prints one line per scan mode:
  step impl=torch-mambapy pscan=1 ... min_ms=.. median_ms=.. samples_per_s=..
(samples/s from the median step; cpu_ms: process CPU time per timed step, all threads).
"""
import argparse
import importlib.metadata
import json
import struct
import statistics
import sys
import time
import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")  # torch without numpy: fine
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from mambapy.vim import MambaConfig, RMSNorm, VMamba  # noqa: E402


class Backbone(nn.Module):
    """mambapy's bidirectional VMamba followed by a final RMSNorm (ssmkit's norm_f)."""

    def __init__(self, cfg):
        super().__init__()
        self.body = VMamba(cfg)
        self.norm_f = RMSNorm(cfg.d_model, cfg.rms_norm_eps)

    def forward(self, x):
        return self.norm_f(self.body(x))


def read_safetensors(path):
    """name -> float32 tensor (the F32 files ssmkit writes; no safetensors package needed)."""
    with open(path, "rb") as f:
        raw = f.read()
    (hlen,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + hlen])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", (name, t["dtype"])
        a, b = t["data_offsets"]
        out[name] = torch.frombuffer(bytearray(raw[8 + hlen + a:8 + hlen + b]),
                                     dtype=torch.float32).view(t["shape"])
    return out


def torch_name(name):
    """ssmkit's parameter name (mamba_ssm / Vim) -> this model's."""
    if name.startswith("layers."):
        name = "body." + name
    return name.replace(".A_b_log", ".A_log_b")


def inputs(args):
    """The deterministic input and output gradient of bench/backbone.c."""
    n = args.B * args.L * args.d
    i = torch.arange(n, dtype=torch.float64)
    x = ((i % 97) / 97 - 0.5).float().view(args.B, args.L, args.d)
    dout = ((i % 89) / 89 - 0.5).float().view(args.B, args.L, args.d)
    return x, dout


def check(args, prefix):
    cfg = MambaConfig(d_model=args.d, n_layers=args.layers, d_state=args.N,
                      expand_factor=args.expand, d_conv=args.d_conv, pscan=True,
                      bidirectional=True, divide_output=True)
    model = Backbone(cfg).float()
    params = dict(model.named_parameters())
    theirs = read_safetensors(prefix + ".safetensors")
    grads = read_safetensors(prefix + ".grad.safetensors")
    names = {torch_name(k): k for k in theirs}
    missing = sorted(set(params) - set(names)) + sorted(set(names) - set(params))
    assert not missing, f"names without a match: {missing}"
    with torch.no_grad():
        for tn, sn in names.items():
            assert params[tn].shape == theirs[sn].shape, (tn, params[tn].shape, theirs[sn].shape)
            params[tn].copy_(theirs[sn])
    x, dout = inputs(args)
    x.requires_grad_(True)
    out = model(x)
    out.backward(dout)
    shape = (args.B, args.L, args.d)
    ref_out = torch.frombuffer(bytearray(open(prefix + ".out.f32", "rb").read()),
                               dtype=torch.float32).view(shape)
    ref_din = torch.frombuffer(bytearray(open(prefix + ".din.f32", "rb").read()),
                               dtype=torch.float32).view(shape)

    def rel(a, b):  # max |a - b| over max |b|
        return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()

    print(f"check {prefix}: output max rel diff {rel(out.detach(), ref_out):.2e}, "
          f"d input {rel(x.grad, ref_din):.2e}")
    worst = max(((rel(params[tn].grad, grads[sn]), tn) for tn, sn in names.items()))
    print(f"check {prefix}: {len(names)} parameter gradients, worst max rel diff "
          f"{worst[0]:.2e} ({worst[1]})")


def run(args, pscan):
    torch.manual_seed(1)
    cfg = MambaConfig(d_model=args.d, n_layers=args.layers, d_state=args.N,
                      expand_factor=args.expand, d_conv=args.d_conv, pscan=pscan,
                      bidirectional=True, divide_output=True)
    model = Backbone(cfg).float()
    n_params = sum(p.numel() for p in model.parameters())
    x, dout = inputs(args)
    x.requires_grad_(True)

    def step():
        out = model(x)
        out.backward(dout)

    for _ in range(args.warmup):
        step()
    times = []
    c0 = time.process_time()
    for _ in range(args.iters):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    cpu = (time.process_time() - c0) / args.iters
    tmin, tmed = min(times), statistics.median(times)
    print(f"step impl=torch-mambapy pscan={int(pscan)} B={args.B} d={args.d} L={args.L} "
          f"N={args.N} layers={args.layers} K=2 threads={torch.get_num_threads()} "
          f"params={n_params} warmup={args.warmup} iters={args.iters} "
          f"min_ms={tmin * 1e3:.1f} median_ms={tmed * 1e3:.1f} "
          f"samples_per_s={args.B / tmed:.1f} cpu_ms={cpu * 1e3:.1f}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-B", type=int, default=8)
    ap.add_argument("-L", type=int, default=196)
    ap.add_argument("-d", type=int, default=192)
    ap.add_argument("-N", type=int, default=16)
    ap.add_argument("-layers", type=int, default=4)
    ap.add_argument("-expand", type=int, default=2)
    ap.add_argument("-d_conv", type=int, default=4)
    ap.add_argument("-threads", type=int, default=2)
    ap.add_argument("-warmup", type=int, default=3)
    ap.add_argument("-iters", type=int, default=10)
    ap.add_argument("-pscan", choices=["1", "0", "both"], default="both",
                    help="mambapy's parallel scan (1), its sequential loop (0), or both")
    ap.add_argument("-check", metavar="PREFIX",
                    help="compare one step with ssmkit's (backbone -step -dump PREFIX), no timing")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# torch {torch.__version__}, mambapy {importlib.metadata.version('mambapy')}, "
          f"python {sys.version.split()[0]}, threads {torch.get_num_threads()}, "
          f"cpu capability {torch.backends.cpu.get_cpu_capability()}", flush=True)
    if args.check:
        check(args, args.check)
        return
    for mode in ([True, False] if args.pscan == "both" else [args.pscan == "1"]):
        run(args, mode)


if __name__ == "__main__":
    main()
