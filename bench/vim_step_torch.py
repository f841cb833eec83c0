#!/usr/bin/env python3
"""Vim-Tiny's whole training step in PyTorch on mamba_ssm's fast path, beside ssmkit's (issue 15).

The model is Vision Mamba (Vim) at bench/train's vim_tiny shape: 3x224x224 images, 16x16
patches (nn.Conv2d with bias), a class token inserted in the middle (index P // 2, Vim's
use_middle_cls_token), learned positions on every token, 24 pre-norm residual blocks with
RMSNorm (fused add + norm, residual kept in fp32: Vim's fused_add_norm, residual_in_fp32) and
Vim's bimamba v2 mixer, a final RMSNorm, and a linear head on the class token; d_model 192,
d_state 16, d_conv 4, expand 2, dt_rank 12, no biases on in_proj / out_proj, batch 128, 1000
classes. The parameter names and counts are ssmkit's (docs/backbone.md), and the step is
bench/train's: upload of the batch from host memory, forward, cross entropy with label
smoothing 0.1, backward, gradient clipping at norm 1, AdamW (lr 1e-4, betas 0.9 / 0.999, eps
1e-8, weight decay 0.05 on the matrices only), fp32 or bf16 autocast.

Bimamba v2 (Vim's mamba_simple.py): one in_proj gives xz; the forward branch runs mamba_ssm's
inner function without the out projection on xz, the backward branch on xz flipped in time
with its own conv1d_b, x_proj_b, dt_proj_b, A_b_log, D_b; out_proj((y + flip(y_b)) / 2). The
fast path (`BranchFn`) is that inner function (Vim's mamba_inner_fn_no_out_proj, which is
mamba_ssm's MambaInnerFn less out_proj) written against the compiled kernels of mamba-ssm
2.3.2 and causal-conv1d 1.7.0, built from their sources by bench/compare_mamba_ssm.py:
causal_conv1d_fwd (+ SiLU), x_proj and dt_proj as GEMMs laid out the way mamba_ssm lays them
out, selective_scan_cuda.fwd with z; checkpoint level 1 (the backward recomputes the conv
output and delta); the backward runs selective_scan_cuda.bwd, the GEMMs and
causal_conv1d_bwd. The reference path (`--ref`) is the same model in plain PyTorch (nn
functional conv1d, a time loop for the scan), and runs anywhere.

    python3 bench/vim_step_torch.py [--prec fp32,bf16] [--steps 20] [--device cuda]
        [--ref] [--tiny] [--batch B] [--norm compiled|eager] [--tf32]
        [--compare build-cuda/bench/train] [--check [--mock-kernels]] [--build-only] [--params]
      --compare BIN   run ssmkit's bench (BIN STEPS --shape vim_tiny --csv) first, then this
                      side, and print one table with ratio = ssmkit / torch samples/s
      --check         the fast path against the reference path on one small batch (loss and
                      every gradient); --mock-kernels swaps the compiled kernels for
                      bench/vim_step_mock.py so the check runs on a CPU
      --tiny          a small shape (32x32 images, 8x8 patches, d 32, 2 layers, batch 4)
      --norm          add + RMSNorm through torch.compile (one fused kernel each way, as
                      Vim's Triton kernel; default where torch.compile exists and the device
                      is a GPU) or eager PyTorch ops
"""
import argparse
import functools
import math
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPES = {  # bench/train.c's vim_tiny, and a small one for CPUs
    "vim_tiny": dict(C=3, H=224, W=224, patch=16, d_model=192, n_layers=24, batch=128,
                     classes=1000),
    "tiny": dict(C=3, H=32, W=32, patch=8, d_model=32, n_layers=2, batch=4, classes=10),
}
D_STATE, D_CONV, EXPAND, EPS = 16, 4, 2, 1e-5
KERNELS = {}  # "ss": selective_scan_cuda, "conv": causal_conv1d_cuda (compiled, or the mocks)

if hasattr(torch, "amp") and hasattr(torch.amp, "custom_fwd"):  # torch >= 2.4
    custom_fwd = functools.partial(torch.amp.custom_fwd, device_type="cuda")
    custom_bwd = functools.partial(torch.amp.custom_bwd, device_type="cuda")
else:
    custom_fwd, custom_bwd = torch.cuda.amp.custom_fwd, torch.cuda.amp.custom_bwd


def autocast_dtype():
    """The dtype autocast gives GEMMs on the GPU here, or None outside autocast."""
    if hasattr(torch, "get_autocast_dtype"):
        return torch.get_autocast_dtype("cuda") if torch.is_autocast_enabled("cuda") else None
    return torch.get_autocast_gpu_dtype() if torch.is_autocast_enabled() else None


def load_kernels(src, build, mock):
    if mock:
        import vim_step_mock
        KERNELS.update(ss=vim_step_mock.SelectiveScan, conv=vim_step_mock.CausalConv1d)
        return
    import compare_mamba_ssm as cms
    for sub in (os.path.join("mamba_ssm", "selective_scan"), os.path.join("causal_conv1d", "csrc")):
        if not os.path.isdir(os.path.join(src, sub)):
            sys.exit(f"{src}: no {sub} (run tools/fetch_mamba_src.sh where there is network)")
    KERNELS.update(ss=cms.build_extension(src, os.path.join(build, "mamba_ext")),
                   conv=cms.build_causal_conv1d(src, os.path.join(build, "causal_conv1d_ext")))


def conv_fwd(x, w, b):
    out = torch.empty_like(x)
    KERNELS["conv"].causal_conv1d_fwd(x, w, b, None, None, out, None, True)
    return out


def conv_bwd(x, w, b, dout, dx):
    # causal-conv1d accumulates the weight gradients in fp32 (its cpp_functions.py does the same)
    dw = torch.zeros_like(w, dtype=torch.float32)
    db = torch.zeros_like(b, dtype=torch.float32)
    KERNELS["conv"].causal_conv1d_bwd(x, w, b, dout, None, None, None, dx, dw, db, None, True)
    return dx, dw.to(w.dtype), db.to(b.dtype)


def bl_rows(t):
    """[b, d, l] -> [(b l), d] (a view where t's layout allows, as einops' rearrange)"""
    return t.transpose(1, 2).reshape(-1, t.shape[1])


def d_bl(t):
    """[b, d, l] -> [d, (b l)]"""
    return t.transpose(0, 1).reshape(t.shape[1], -1)


def b_d_l(t, b):
    """[d, (b l)] -> [b, d, l] (a view)"""
    return t.view(t.shape[0], b, -1).transpose(0, 1)


def state_rows(t, b, N):
    """x_dbl's [(b l), N] columns -> [b, 1, N, l], contiguous, as the scan reads B and C"""
    return t.reshape(b, -1, N).transpose(1, 2).unsqueeze(1).contiguous()


class BranchFn(torch.autograd.Function):
    """One bimamba v2 branch on the compiled kernels: y_gated [b, E, l] from xz [b, 2E, l]."""

    @staticmethod
    @custom_fwd
    def forward(ctx, xz, conv_w, conv_b, xproj_w, dt_w, A, D, dt_bias):
        b, R, N = xz.shape[0], dt_w.shape[1], A.shape[1]
        cd = autocast_dtype()
        if cd is not None:  # as mamba_ssm: the projections in the autocast dtype, conv in fp32
            xproj_w, dt_w = xproj_w.to(cd), dt_w.to(cd)
        if xz.stride(-1) != 1:
            xz = xz.contiguous()
        conv_w = conv_w.reshape(conv_w.shape[0], conv_w.shape[-1])  # [E, 1, W] -> [E, W]
        x, z = xz.chunk(2, dim=1)
        u = conv_fwd(x, conv_w, conv_b)
        x_dbl = F.linear(bl_rows(u), xproj_w)  # [(b l), R + 2N]
        delta = b_d_l(dt_w @ x_dbl[:, :R].t(), b)  # [b, E, l], l fastest
        Bm, Cm = state_rows(x_dbl[:, R:R + N], b, N), state_rows(x_dbl[:, R + N:], b, N)
        out, scan_x, out_z = KERNELS["ss"].fwd(u, delta, A, Bm, Cm, D.contiguous(), z, dt_bias,
                                               True)
        # checkpoint level 1: u and delta are recomputed in the backward
        ctx.save_for_backward(xz, conv_w, conv_b, x_dbl, xproj_w, dt_w, A, Bm, Cm, D, dt_bias,
                              scan_x, out)
        return out_z

    @staticmethod
    @custom_bwd
    def backward(ctx, dout):
        xz, conv_w, conv_b, x_dbl, xproj_w, dt_w, A, Bm, Cm, D, dt_bias, scan_x, out = \
            ctx.saved_tensors
        b, R, N = xz.shape[0], dt_w.shape[1], A.shape[1]
        x, z = xz.chunk(2, dim=1)
        if dout.stride(-1) != 1:
            dout = dout.contiguous()
        u = conv_fwd(x, conv_w, conv_b)
        delta = b_d_l(dt_w @ x_dbl[:, :R].t(), b)
        dxz = torch.empty_like(xz)
        dx, dz = dxz.chunk(2, dim=1)
        # dz is written into dxz's lower half; out_z is not needed here (no out_proj inside),
        # so the scan backward is not asked to recompute it
        du, ddelta, dA, dB, dC, dD, ddt_bias, dz = KERNELS["ss"].bwd(
            u, delta, A, Bm, Cm, D, z, dt_bias, dout, scan_x, out, dz, True, False)[:8]
        dx_dbl = torch.empty_like(x_dbl)
        dx_dbl[:, R:R + N] = dB.squeeze(1).transpose(1, 2).reshape(-1, N)
        dx_dbl[:, R + N:] = dC.squeeze(1).transpose(1, 2).reshape(-1, N)
        ddelta = d_bl(ddelta)  # [E, (b l)]
        ddt_w = ddelta @ x_dbl[:, :R]
        dx_dbl[:, :R] = ddelta.t() @ dt_w
        du = d_bl(du)
        dxproj_w = dx_dbl.t() @ bl_rows(u)
        du = torch.addmm(du, xproj_w.t(), dx_dbl.t(), out=du)
        dx, dconv_w, dconv_b = conv_bwd(x, conv_w, conv_b, b_d_l(du, b), dx)
        return dxz, dconv_w.unsqueeze(1), dconv_b, dxproj_w, ddt_w, dA, dD, ddt_bias


def branch_ref(xz, conv_w, conv_b, xproj_w, dt_w, A, D, dt_bias):
    """The same branch in plain PyTorch (autograd for the backward; the scan in fp32)."""
    E, L, R, N = conv_w.shape[0], xz.shape[-1], dt_w.shape[1], A.shape[1]
    x, z = xz.chunk(2, dim=1)
    u = F.silu(F.conv1d(x, conv_w, conv_b, padding=conv_w.shape[-1] - 1, groups=E)[..., :L])
    x_dbl = F.linear(u.transpose(1, 2), xproj_w)  # [b, l, R + 2N]
    delta = F.linear(x_dbl[..., :R], dt_w).transpose(1, 2).float()  # [b, E, l]
    delta = F.softplus(delta + dt_bias[:, None])
    Bm, Cm = x_dbl[..., R:R + N].float(), x_dbl[..., R + N:].float()  # [b, l, N]
    uf = u.float()
    dA = torch.exp(delta.unsqueeze(-1) * A.unsqueeze(1))  # [b, E, l, N]
    dBu = (delta * uf).unsqueeze(-1) * Bm.unsqueeze(1)
    h = uf.new_zeros(uf.shape[0], E, N)
    ys = []
    for i in range(L):
        h = dA[:, :, i] * h + dBu[:, :, i]
        ys.append((h * Cm[:, i].unsqueeze(1)).sum(-1))
    y = torch.stack(ys, dim=-1) + uf * D[:, None]
    return (y * F.silu(z.float())).to(u.dtype)


def add_rms_norm(hidden, residual, weight):
    """Vim's fused add + RMSNorm with residual_in_fp32: (normed in hidden's dtype, residual)."""
    residual = hidden.float() if residual is None else residual + hidden.float()
    y = residual * torch.rsqrt(residual.square().mean(-1, keepdim=True) + EPS) * weight
    return y.to(hidden.dtype), residual


class BiMambaV2(nn.Module):
    def __init__(self, d_model, n_layers):
        super().__init__()
        E, N = EXPAND * d_model, D_STATE
        self.R = R = math.ceil(d_model / 16)
        self.in_proj = nn.Linear(d_model, 2 * E, bias=False)
        for s in ("", "_b"):
            setattr(self, "conv1d" + s, nn.Conv1d(E, E, D_CONV, groups=E, padding=D_CONV - 1))
            setattr(self, "x_proj" + s, nn.Linear(E, R + 2 * N, bias=False))
            dt = nn.Linear(R, E)
            nn.init.uniform_(dt.weight, -R ** -0.5, R ** -0.5)
            with torch.no_grad():  # softplus(bias) log-uniform in [1e-3, 1e-1]
                v = torch.exp(torch.rand(E) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
                v = v.clamp(min=1e-4)
                dt.bias.copy_(v + torch.log(-torch.expm1(-v)))
            setattr(self, "dt_proj" + s, dt)
            A = torch.arange(1, N + 1, dtype=torch.float32).repeat(E, 1)
            setattr(self, "A" + s + "_log", nn.Parameter(torch.log(A)))
            setattr(self, "D" + s, nn.Parameter(torch.ones(E)))
        self.out_proj = nn.Linear(E, d_model, bias=False)
        with torch.no_grad():  # mamba_ssm's rescale of pre-norm residual branches
            self.out_proj.weight /= math.sqrt(n_layers)
        self.fast = True

    def branch(self, xz, s):
        A = -torch.exp(getattr(self, "A" + s + "_log").float())
        conv = getattr(self, "conv1d" + s)
        dt = getattr(self, "dt_proj" + s)
        args = (xz, conv.weight, conv.bias, getattr(self, "x_proj" + s).weight, dt.weight, A,
                getattr(self, "D" + s).float(), dt.bias.float())
        return BranchFn.apply(*args) if self.fast else branch_ref(*args)

    def forward(self, h):  # [b, l, D] -> [b, l, D]
        b = h.shape[0]
        # in_proj as mamba_ssm does it: W @ h^T gives xz [b, 2E, l] with l fastest, no transpose
        xz = b_d_l(self.in_proj.weight @ h.reshape(-1, h.shape[-1]).t(), b)
        y = self.branch(xz, "") + self.branch(xz.flip([-1]), "_b").flip([-1])
        return F.linear(y.transpose(1, 2) / 2, self.out_proj.weight)  # Vim's if_devide_out


class RMSNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))


class Block(nn.Module):
    def __init__(self, d_model, n_layers):
        super().__init__()
        self.norm = RMSNorm(d_model)
        self.mixer = BiMambaV2(d_model, n_layers)


class PatchEmbed(nn.Module):
    def __init__(self, C, d, p):
        super().__init__()
        self.proj = nn.Conv2d(C, d, p, stride=p)


class Vim(nn.Module):
    def __init__(self, s, add_norm):
        super().__init__()
        D, P = s["d_model"], (s["H"] // s["patch"]) * (s["W"] // s["patch"])
        self.c = P // 2  # the class token's position
        self.patch_embed = PatchEmbed(s["C"], D, s["patch"])
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.pos_embed = nn.Parameter(torch.zeros(1, P + 1, D))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.layers = nn.ModuleList(Block(D, s["n_layers"]) for _ in range(s["n_layers"]))
        self.norm_f = RMSNorm(D)
        self.head = nn.Linear(D, s["classes"])
        self.add_norm = add_norm

    def set_fast(self, fast):
        for layer in self.layers:
            layer.mixer.fast = fast

    def forward(self, img):
        x = self.patch_embed.proj(img).flatten(2).transpose(1, 2)  # [b, P, D]
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        h = torch.cat((x[:, :self.c], cls, x[:, self.c:]), dim=1) + self.pos_embed
        residual = None
        for layer in self.layers:
            h, residual = self.add_norm(h, residual, layer.norm.weight)
            h = layer.mixer(h)
        h, _ = self.add_norm(h, residual, self.norm_f.weight)
        return self.head(h[:, self.c])


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def make_optimizer(model, dev):
    decay, no_decay = [], []
    for name, p in model.named_parameters():  # ssmkit's SSM_PARAM_NO_DECAY set
        vec = p.ndim <= 1 or name.endswith("_log") or name in ("cls_token", "pos_embed")
        (no_decay if vec else decay).append(p)
    groups = [{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}]
    kw = dict(lr=1e-4, betas=(0.9, 0.999), eps=1e-8)
    if dev.type == "cuda":
        try:
            return torch.optim.AdamW(groups, fused=True, **kw), "fused"
        except (TypeError, RuntimeError):
            pass
    return torch.optim.AdamW(groups, **kw), "default"


def batch(s, B):
    """bench/train.c's inputs: x[i] = ((i * 2654435761) % 2000) / 1000 - 1, y[i] = i % classes"""
    n = B * s["C"] * s["H"] * s["W"]
    x = ((torch.arange(n, dtype=torch.int64) * 2654435761) % 2000).float() / 1000 - 1
    return x.view(B, s["C"], s["H"], s["W"]), torch.arange(B) % s["classes"]


def norm_fn(args, dev):
    """add_rms_norm through torch.compile, tried once on a small input (forward and backward);
    where that fails and --norm did not ask for it, the eager ops, said in the notes."""
    want = args.norm or ("compiled" if dev.type == "cuda" and hasattr(torch, "compile") else
                         "eager")
    if want == "eager":
        return add_rms_norm, "eager"
    f = torch.compile(add_rms_norm, dynamic=False)
    try:
        h = torch.randn(2, 3, 8, device=dev, requires_grad=True)
        w = torch.ones(8, device=dev, requires_grad=True)
        y, r = f(h, None, w)
        (y.sum() + r.sum()).backward()
    except Exception as e:  # a missing compiler or Triton: say so, time the eager ops
        if args.norm == "compiled":
            raise
        return add_rms_norm, f"eager (torch.compile failed: {type(e).__name__}: {e})"[:300]
    return f, "compiled"


def time_torch(args, s, dev, prec, norm):
    """One precision's run: (samples/s, ms/step, peak allocated MiB, device MiB, params, notes)."""
    cuda = dev.type == "cuda"
    B = args.batch or s["batch"]
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        free0 = torch.cuda.mem_get_info()[0]
    torch.manual_seed(1)
    add_norm, how = norm
    model = Vim(s, add_norm).to(dev)
    model.set_fast(not args.ref)
    opt, adamw = make_optimizer(model, dev)
    xh, yh = batch(s, B)  # in host memory, uploaded every step as bench/train does
    bf16 = prec == "bf16"
    free_min = free0 if cuda else 0
    ts, loss = [], float("nan")
    for r in range(-3, args.steps):
        t0 = time.perf_counter()
        xb, yb = xh.to(dev), yh.to(dev)
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(xb)
        loss = F.cross_entropy(logits.float(), yb, label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss = loss.item()
        del xb, yb, logits  # nothing of this step stays alive into the next one's peak
        if cuda:
            torch.cuda.synchronize()
        if r >= 0:
            ts.append(time.perf_counter() - t0)
        if cuda:
            free_min = min(free_min, torch.cuda.mem_get_info()[0])
    if not math.isfinite(loss):
        sys.exit(f"torch {prec}: loss {loss} after {args.steps + 3} steps")
    step = statistics.median(ts)
    peak = (torch.cuda.max_memory_allocated() - base) / 2**20 if cuda else float("nan")
    held = (free0 - free_min) / 2**20 if cuda else float("nan")
    notes = f"norm {how}, AdamW {adamw}, loss {loss:.4f}"
    P = n_params(model)
    del model, opt
    return B / step, step * 1e3, peak, held, P, notes


def run_ssmkit(binary, steps):
    env = dict(os.environ)  # the loader path ssmkit was built for (compare_vim_step.sh)
    if "SSMKIT_BENCH_LD_LIBRARY_PATH" in env:
        env["LD_LIBRARY_PATH"] = env["SSMKIT_BENCH_LD_LIBRARY_PATH"]
    res = subprocess.run([binary, str(steps), "--shape", "vim_tiny", "--csv"], capture_output=True,
                         text=True, env=env)
    if res.returncode != 0:
        sys.exit(f"{binary}: exit {res.returncode}\n{res.stdout}{res.stderr}")
    rows = {}
    for line in res.stdout.splitlines():
        f = line.split(",")
        if len(f) in (11, 13) and f[0] == "vim_tiny":
            rows[f[1]] = dict(batch=int(f[2]), params=int(f[5]), sps=float(f[6]), ms=float(f[7]),
                              peak=float(f[8]), held=float(f[9]))
            if len(f) == 13:  # the same step replayed as a CUDA graph (train.cuda_graph)
                rows[f[1]].update(gsps=float(f[11]), gms=float(f[12]))
    if not rows:
        sys.exit(f"{binary}: no vim_tiny rows in\n{res.stdout}{res.stderr}")
    sys.stderr.write(res.stderr)
    return rows


def rel_err(a, b):
    return ((a.float() - b.float()).norm() / b.float().norm().clamp_min(1e-30)).item()


def check(args, s, dev):
    """The fast path against the reference path: same weights, one small batch, loss and every
    gradient (norm-wise relative error), fp32 and (on a GPU) bf16 autocast."""
    B = args.batch or 2
    torch.manual_seed(1)
    model = Vim(s, add_rms_norm).to(dev)
    xh, yh = batch(s, B)
    xb, yb = xh.to(dev), yh.to(dev)
    bad = 0
    for prec, bar in (("fp32", 1e-3), ("bf16", 1e-1)):
        if prec == "bf16" and dev.type != "cuda":
            continue
        grads, losses = [], []
        for fast in (True, False):
            model.set_fast(fast)
            model.zero_grad(set_to_none=True)
            with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=prec == "bf16"):
                logits = model(xb)
            loss = F.cross_entropy(logits.float(), yb, label_smoothing=0.1)
            loss.backward()
            losses.append(loss.detach())
            grads.append({n: p.grad.detach().clone() for n, p in model.named_parameters()})
        worst = max((rel_err(grads[0][n], grads[1][n]), n) for n in grads[1])
        le = rel_err(losses[0], losses[1])
        ok = le <= bar and worst[0] <= bar
        bad += not ok
        print(f"check {prec}: loss fast {losses[0].item():.6f} ref {losses[1].item():.6f} "
              f"(rel {le:.2e}); worst gradient rel error {worst[0]:.2e} ({worst[1]}); "
              f"bar {bar:g}: {'ok' if ok else 'FAIL'}", flush=True)
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prec", default="fp32,bf16")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--ref", action="store_true", help="the plain-PyTorch reference path")
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--norm", choices=("compiled", "eager"))
    ap.add_argument("--tf32", action="store_true", help="allow TF32 (off: ssmkit has none)")
    ap.add_argument("--compare", metavar="BIN")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--mock-kernels", action="store_true")
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument("--params", action="store_true", help="print the parameter count and stop")
    ap.add_argument("--src", default="third_party/mamba_src")
    ap.add_argument("--build", default="build-cuda")
    args = ap.parse_args()
    s = SHAPES["tiny" if args.tiny else "vim_tiny"]
    if args.params:
        print(n_params(Vim(s, add_rms_norm)))
        return
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device here: --device cpu with --ref (or --check --mock-kernels)")
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.backends.cudnn.benchmark = True
    if args.mock_kernels or not args.ref or args.check:
        load_kernels(args.src, args.build, args.mock_kernels)
    if args.build_only:
        return
    if args.check:
        sys.exit(1 if check(args, s, dev) else 0)
    precs = [p for p in args.prec.split(",") if p]
    if any(p not in ("fp32", "bf16") for p in precs):
        sys.exit(f"--prec {args.prec}: expected fp32, bf16 or both")
    ssm = run_ssmkit(args.compare, args.steps) if args.compare else {}
    if dev.type == "cuda":  # cuBLAS's handles and workspaces before any run (bench/train too)
        for dt in (torch.float32, torch.bfloat16):
            a = torch.ones(64, 64, device=dev, dtype=dt)
            (a @ a).sum().item()
    name = "torch + mamba_ssm" if not args.ref else "torch (reference path)"
    where = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"
    print(f"torch {torch.__version__}, {where}; shape {'tiny' if args.tiny else 'vim_tiny'}, "
          f"median of {args.steps} steps after 3; TF32 {'on' if args.tf32 else 'off'}")
    print("peak MiB: ssmkit = device memory in use (cudaMemGetInfo) at its lowest free point "
          "minus before the build; torch = torch.cuda.max_memory_allocated (tensors only); "
          "device MiB = the same cudaMemGetInfo measure for both (torch: + its allocator's "
          "cache, cuBLAS/cuDNN workspaces)")
    print("ratio = ssmkit samples/s / torch samples/s; mem ratio = ssmkit peak / torch peak\n")
    print("| system | precision | batch | params | samples/s | ms/step | peak MiB | device MiB "
          "| ratio | mem ratio |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    notes = []
    norm = norm_fn(args, dev)
    for prec in precs:
        sps, ms, peak, held, P, note = time_torch(args, s, dev, prec, norm)
        notes.append(f"torch {prec}: {note}")
        k = ssm.get(prec)
        if k:
            if k["params"] != P:
                notes.append(f"PARAMETER COUNTS DIFFER: ssmkit {k['params']}, torch {P}")
            print(f"| ssmkit | {prec} | {k['batch']} | {k['params']} | {k['sps']:.1f} | "
                  f"{k['ms']:.2f} | {k['peak']:.0f} | {k['held']:.0f} | {k['sps'] / sps:.2f} | "
                  f"{k['peak'] / peak:.2f} |")
            if "gsps" in k:
                print(f"| ssmkit, CUDA graph | {prec} | {k['batch']} | {k['params']} | "
                      f"{k['gsps']:.1f} | {k['gms']:.2f} | | | {k['gsps'] / sps:.2f} | |")
        print(f"| {name} | {prec} | {args.batch or s['batch']} | {P} | {sps:.1f} | {ms:.2f} | "
              f"{peak:.0f} | {held:.0f} | | |", flush=True)
    print("\n" + "\n".join(notes))


if __name__ == "__main__":
    main()
