"""ssmkit checkpoints in PyTorch, both ways.

    import ssmkit_torch                                  # tools/pytorch/ on sys.path
    model = ssmkit_torch.load("runs/x/best.safetensors")  # an nn.Module, weights loaded
    out = model(x)                                        # what ssmkit's model_predict gives
    ssmkit_torch.is_exact_vim(model)                      # True, or a loud warning
    ssmkit_torch.save(model, "edited.safetensors", like="runs/x/best.safetensors")

A checkpoint carries its resolved config YAML (metadata `config`) and one sample's
shape (`data_channels`/`data_height`/`data_width` for images, `data_lookback`/
`data_variates` and `data_horizon`/`data_out_variates` for series), so `load` rebuilds
the exact model from the file alone and fills it with `load_state_dict(strict=True)`:
the parameter names are ssmkit's, which are mamba_ssm's / Vim's, with no renames.

Supported (what tasks/trunk.c, the adapters and the heads compute):
  adapters  image_patches (p x p patches, stride s, class token head/middle/none,
            orders row, column, snake and their *_reverse), series_variate (one token
            per variate) and series_patch (PatchTST patches, end padding), both with
            optional RevIN (affine or not); orders forward/row and reverse
  backbone  any d_model, n_layers, d_state, d_conv, expand, dt_rank; RMSNorm or
            LayerNorm; 1..8 branches merged by mean or sum; the per-layer schedule
            (branch k of layer i scans order (i*K + k) mod n_orders); final norm on/off
  heads     class (task classify: pool mean, cls or last), forecast (task forecast),
            regress (task regress: pool mean, cls or last); RevIN inverted as ssmkit does
Not supported: audio_patches, bag_features (MIL), point_groups; `load` says so.

Inputs are what ssmkit's model takes: already standardised by the data's statistics
(metadata `data_mean.<c>`, `data_std.<c>` when `data.augment.normalize` is on):
images x [B, C, H, W], series x [B, lookback, variates]. Outputs: class logits [B, V];
forecasts [B, horizon, out_variates]; regression values [B, outputs].

The selective scan is mamba_ssm's reference formula (`selective_scan_ref`, written here
without einops; it computes in float32, or float64 for a float64 model, where mamba_ssm
always upcasts to float32). On a GPU, mamba_ssm's kernel computes the same function
and may be swapped in, same signature:
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    model.scan_fn = selective_scan_fn
ssmkit's mixer is mamba_ssm's Mamba with Vim's bidirectional "v2" layout (shared
in_proj / out_proj, per-branch conv1d, x_proj, dt_proj, A_log, D; branch 1 suffixed
`_b`, branch k >= 2 `_c{k}`), the gate SiLU(z) applied once after the merge (the same
function as Vim's per-branch gate: the gate distributes over the merge).

Vim: a checkpoint is an exact Vim model when it has 2 branches scanning [identity,
reverse] in every layer (`is_exact_vim`); its backbone weights then load into Vim's
Mamba(bimamba_type="v2") blocks (if_divide_out = merge mean) and compute this model.
Any other 2-branch model (a per-layer schedule over more orders, other orders) ALSO
loads into Vim's code without error but computes a different model: `load` warns.

Needs: torch, safetensors, PyYAML (tools/pytorch/install_cpu_torch.sh makes a venv).
"""
import os
import sys
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml
from safetensors import safe_open
from safetensors.torch import load_file, save_file

__all__ = ["load", "build", "save", "read_metadata", "is_exact_vim", "vim_report",
           "selective_scan_ref", "SsmkitModel", "NotVimWarning", "REVIN_EPS"]

REVIN_EPS = 1e-5  # adapters/revin.h SSM_REVIN_EPS
MAX_BRANCHES = 8  # backbone/mamba.h MAMBA_MAX_BRANCHES
IMAGE_ORDERS = {  # name: (walk, reversed), adapters/image_patches.c
    "row": ("row", False), "column": ("column", False), "snake": ("snake", False),
    "reverse": ("row", True), "column_reverse": ("column", True),
    "snake_reverse": ("snake", True)}
SERIES_ORDERS = {"forward": False, "row": False, "reverse": True}  # adapters/series_common.c
IDENTITY_NAMES = {"image_patches": ("row",), "series_variate": ("forward", "row"),
                  "series_patch": ("forward", "row")}


def selective_scan_ref(u, delta, A, B, C, D=None, z=None, delta_bias=None,
                       delta_softplus=False):
    """mamba_ssm's selective_scan_ref: u, delta [b, d, l]; A [d, n]; B, C [b, n, l];
    D [d]; z [b, d, l] or None; delta_bias [d]. Returns y [b, d, l]:
        delta = softplus(delta + delta_bias)
        h_t = exp(delta_t A) h_{t-1} + delta_t B_t u_t,   y_t = C_t . h_t + D u_t
    (times SiLU(z) when z is given). float32 arithmetic, float64 for float64 inputs."""
    dtype_in = u.dtype
    ct = torch.float64 if dtype_in == torch.float64 else torch.float32
    u, delta, A, B, C = (t.to(ct) for t in (u, delta, A, B, C))
    if delta_bias is not None:
        delta = delta + delta_bias.to(ct)[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    deltaA = torch.exp(delta[..., None] * A[None, :, None, :])            # [b, d, l, n]
    deltaB_u = (delta * u)[..., None] * B.transpose(1, 2)[:, None]       # [b, d, l, n]
    Ct = C.transpose(1, 2)[:, None]                                      # [b, 1, l, n]
    h = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    ys = []
    for i in range(u.shape[2]):
        h = deltaA[:, :, i] * h + deltaB_u[:, :, i]
        ys.append((h * Ct[:, :, i]).sum(-1))
    y = torch.stack(ys, dim=2)
    out = y if D is None else y + u * D.to(ct)[:, None]
    if z is not None:
        out = out * F.silu(z.to(ct))
    return out.to(dtype_in)


class RMSNorm(nn.Module):
    """mamba_ssm's RMSNorm: x / sqrt(mean(x^2) + eps) * weight (no bias)."""

    def __init__(self, d, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def branch_suffix(k):
    """Branch 0: mamba_ssm's names; 1: Vim's `_b`; k >= 2: ssmkit's `_c{k}`."""
    return "" if k == 0 else "_b" if k == 1 else "_c%d" % k


class Mixer(nn.Module):
    """One layer's mixer (backbone/mixer.c): in_proj shared, then per branch k its own
    order, conv1d, x_proj, dt_proj, A_log, D; branches merged (alpha = 1/K or 1), gated
    by SiLU(z), out_proj. Vim's v2 when K = 2 and the orders are identity and reverse."""

    def __init__(self, D, E, N, R, d_conv, K):
        super().__init__()
        self.E, self.N, self.R, self.K = E, N, R, K
        self.in_proj = nn.Linear(D, 2 * E, bias=False)
        for k in range(K):
            s = branch_suffix(k)
            setattr(self, "conv1d" + s, nn.Conv1d(E, E, d_conv, groups=E, padding=d_conv - 1))
            setattr(self, "x_proj" + s, nn.Linear(E, R + 2 * N, bias=False))
            setattr(self, "dt_proj" + s, nn.Linear(R, E, bias=True))
            setattr(self, "A%s_log" % s, nn.Parameter(torch.zeros(E, N)))
            setattr(self, "D" + s, nn.Parameter(torch.ones(E)))
        self.out_proj = nn.Linear(E, D, bias=False)

    def branch(self, k):
        s = branch_suffix(k)
        return (getattr(self, "conv1d" + s), getattr(self, "x_proj" + s),
                getattr(self, "dt_proj" + s), getattr(self, "A%s_log" % s),
                getattr(self, "D" + s))

    def forward(self, h, perms, alpha, scan_fn):
        """h [B, L, D]; perms: K orders [L] (perm[l] = the position read at step l)."""
        L = h.shape[1]
        xz = self.in_proj(h).transpose(1, 2)                 # [B, 2E, L]
        x, z = xz[:, :self.E], xz[:, self.E:]
        y = None
        for k, perm in enumerate(perms):
            conv, x_proj, dt_proj, A_log, Dk = self.branch(k)
            u = F.silu(conv(x[:, :, perm])[..., :L])         # causal depthwise conv
            x_dbl = F.linear(u.transpose(1, 2), x_proj.weight)  # [B, L, R + 2N]: dt | B | C
            dt, Bm, Cm = torch.split(x_dbl, [self.R, self.N, self.N], dim=-1)
            delta = F.linear(dt, dt_proj.weight).transpose(1, 2)  # bias: the scan's delta_bias
            ys = scan_fn(u.contiguous(), delta.contiguous(), -torch.exp(A_log),
                         Bm.transpose(1, 2).contiguous(), Cm.transpose(1, 2).contiguous(),
                         Dk, None, dt_proj.bias, True)
            back = alpha * ys[:, :, torch.argsort(perm)]    # scatter to the token positions
            y = back if y is None else y + back
        return self.out_proj((y * F.silu(z)).transpose(1, 2))


class Block(nn.Module):
    """mamba_ssm's pre-norm Block: res + mixer(norm(res))."""

    def __init__(self, norm, mixer):
        super().__init__()
        self.mixer = mixer
        self.norm = norm


class SsmkitModel(nn.Module):
    """The model of an ssmkit checkpoint: adapter -> Mamba backbone -> head, parameters
    named as ssmkit names them. Build it with `load` (or `build`); `spec` holds what was
    resolved from the config (orders, schedule, pooled position, ...)."""

    def __init__(self, spec):
        super().__init__()
        self.spec = spec
        self.scan_fn = selective_scan_ref
        D = spec["d_model"]
        ad = spec["adapter"]
        if ad == "image_patches":
            self.patch_embed = nn.Module()
            self.patch_embed.proj = nn.Conv2d(spec["C"], D, spec["patch"], stride=spec["stride"])
            if spec["cls_index"] >= 0:
                self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
            self.pos_embed = nn.Parameter(torch.zeros(1, spec["L"], D))
        elif ad == "series_variate":
            self.enc_embedding = nn.Module()
            self.enc_embedding.value_embedding = nn.Linear(spec["T"], D)
        else:  # series_patch
            self.W_P = nn.Linear(spec["patch"], D)
            self.W_pos = nn.Parameter(torch.zeros(spec["L"], D))
        if spec.get("revin_affine"):
            self.revin = nn.Module()
            self.revin.affine_weight = nn.Parameter(torch.ones(spec["V"]))
            self.revin.affine_bias = nn.Parameter(torch.zeros(spec["V"]))

        def norm():
            if spec["norm"] == "layer":
                return nn.LayerNorm(D, eps=spec["norm_eps"])
            return RMSNorm(D, spec["norm_eps"])

        E, K = spec["expand"] * D, spec["n_branches"]
        self.layers = nn.ModuleList(
            Block(norm(), Mixer(D, E, spec["d_state"], spec["dt_rank"], spec["d_conv"], K))
            for _ in range(spec["n_layers"]))
        self.norm_f = norm()  # declared even with final_norm off, as ssmkit does
        self.head = nn.Linear(spec["head_in"], spec["head_out"])
        for o, perm in enumerate(spec["orders"]):  # not in the state_dict; follow .to()
            self.register_buffer("order_%d" % o, torch.tensor(perm, dtype=torch.long),
                                 persistent=False)

    # ---- adapter --------------------------------------------------------------------
    def _revin_norm(self, x):
        mean = x.mean(1, keepdim=True).detach()
        std = torch.sqrt(x.var(1, keepdim=True, unbiased=False) + REVIN_EPS).detach()
        xn = (x - mean) / std
        if self.spec.get("revin_affine"):
            xn = xn * self.revin.affine_weight + self.revin.affine_bias
        return xn, (mean, std)

    def _revin_denorm(self, y, stats):  # y [B, H, V]
        if self.spec.get("revin_affine"):
            y = (y - self.revin.affine_bias) / (self.revin.affine_weight + REVIN_EPS ** 2)
        return y * stats[1] + stats[0]

    def embed(self, x):
        """tokens [B*S, L, D] and the RevIN statistics (or None)."""
        sp, stats = self.spec, None
        if sp["adapter"] == "image_patches":
            emb = self.patch_embed.proj(x).flatten(2).transpose(1, 2)  # [B, P, D] row-major
            c = sp["cls_index"]
            if c >= 0:
                cls = self.cls_token.expand(x.shape[0], -1, -1)
                emb = torch.cat([emb[:, :c], cls, emb[:, c:]], dim=1)
            return emb + self.pos_embed, None
        if sp.get("revin"):
            x, stats = self._revin_norm(x)
        xv = x.transpose(1, 2)  # [B, V, T]
        if sp["adapter"] == "series_variate":
            return self.enc_embedding.value_embedding(xv), stats
        s, p = sp["stride"], sp["patch"]  # PatchTST: pad the end with the last value s times
        xv = torch.cat([xv, xv[..., -1:].expand(-1, -1, s)], dim=-1)
        tok = self.W_P(xv.unfold(-1, p, s)) + self.W_pos  # [B, V, P, D]
        return tok.reshape(-1, sp["L"], tok.shape[-1]), stats

    # ---- backbone -------------------------------------------------------------------
    def layer_orders(self, i):
        """The orders the K branches of layer i scan (tasks/trunk.c's schedule)."""
        return [getattr(self, "order_%d" % o) for o in self.spec["schedule"][i]]

    def backbone(self, tokens):
        alpha = 1.0 / self.spec["n_branches"] if self.spec["merge"] == "mean" else 1.0
        res = tokens
        for i, layer in enumerate(self.layers):
            res = res + layer.mixer(layer.norm(res), self.layer_orders(i), alpha, self.scan_fn)
        return self.norm_f(res) if self.spec["final_norm"] else res

    # ---- head -----------------------------------------------------------------------
    def _pool(self, feats, B):
        f = feats.reshape(B, -1, feats.shape[-1])  # a sample's S*L tokens
        pos = self.spec["pool_index"]
        return f.mean(1) if pos < 0 else f[:, pos]

    def head_forward(self, feats, B, stats):
        sp = self.spec
        if sp["task"] == "classify":
            return self.head(self._pool(feats, B))
        if sp["task"] == "forecast":
            y = self.head(feats.reshape(B, sp["V"], -1)).transpose(1, 2)  # [B, H, G]
            if stats is not None:
                y = self._revin_denorm(y, stats)
            return y[..., sp["V"] - sp["out_vars"]:]
        y = self.head(self._pool(feats, B))[:, None]  # regress: [B, 1, G]
        if stats is not None:
            y = self._revin_denorm(y, stats)
        return y[:, 0, sp["V"] - sp["out_vars"]:]

    def forward(self, x):
        tokens, stats = self.embed(x)
        return self.head_forward(self.backbone(tokens), x.shape[0], stats)


# ---- orders -------------------------------------------------------------------------
def image_order(walk, reversed_, gh, gw, c):
    """adapters/patch_embed.c patch_order_build: the class token keeps its step c in a
    forward walk; patch k (row-major) sits at position k + (c >= 0 and k >= c)."""
    P = gh * gw
    L = P + (c >= 0)
    perm, j = [], 0
    for l in range(L):
        if l == c:
            perm.append(c)
            continue
        if walk == "row":
            k = j
        elif walk == "column":
            k = (j % gh) * gw + j // gh
        else:  # snake
            r, q = divmod(j, gw)
            k = r * gw + (gw - 1 - q if r % 2 else q)
        perm.append(k + 1 if c >= 0 and k >= c else k)
        j += 1
    return perm[::-1] if reversed_ else perm


# ---- config -> spec -----------------------------------------------------------------
def read_metadata(path):
    """The checkpoint's `__metadata__` (a dict of strings)."""
    with safe_open(path, framework="pt") as f:
        return dict(f.metadata() or {})


def _int(meta, key, path):
    if key not in meta:
        raise ValueError("%s: metadata has no %s (give input_shape=...)" % (path, key))
    return int(meta[key])


def build(config, meta=None, input_shape=None, where="config"):
    """An SsmkitModel (weights at placeholder values) from a resolved config (YAML text
    or its dict) and the checkpoint metadata giving one sample's shape (or input_shape:
    (C, H, W) for images, (lookback, variates) for series; for forecast and regress also
    meta data_horizon and data_out_variates)."""
    cfg = yaml.safe_load(config) if isinstance(config, str) else config
    meta = meta or {}
    a, bb, task = cfg["adapter"], cfg["backbone"], cfg["task"]
    ad = a["name"]
    if ad not in IDENTITY_NAMES:
        raise NotImplementedError(
            "%s: adapter %s is not supported by ssmkit_torch (image_patches, series_variate, "
            "series_patch are)" % (where, ad))
    if task["name"] not in ("classify", "forecast", "regress"):
        raise NotImplementedError("%s: task %s is not supported by ssmkit_torch (classify, "
                                  "forecast, regress are)" % (where, task["name"]))
    names = list(a["orders"])
    D = int(bb["d_model"])
    sp = {"adapter": ad, "task": task["name"], "d_model": D, "order_names": names,
          "n_layers": int(bb["n_layers"]), "d_state": int(bb["d_state"]),
          "d_conv": int(bb["d_conv"]), "expand": int(bb["expand"]),
          "dt_rank": int(bb["dt_rank"]) or -(-D // 16), "norm": bb["norm"],
          # PyYAML reads `1e-05` (no dot) as a string: every number goes through float()
          "norm_eps": float(bb["norm_eps"]), "merge": bb["merge"],
          "final_norm": bool(bb["final_norm"]), "cls_index": -1, "S": 1}
    patch = int(a["patch_size"])
    stride = int(a["stride"]) or patch
    if ad == "image_patches":
        C, H, W = input_shape or (_int(meta, "data_channels", where),
                                  _int(meta, "data_height", where),
                                  _int(meta, "data_width", where))
        if patch > H or patch > W:
            raise ValueError("%s: patch_size %d does not fit in a %dx%d image" % (where, patch, H, W))
        gh, gw = (H - patch) // stride + 1, (W - patch) // stride + 1
        P = gh * gw
        c = {"head": 0, "middle": P // 2}.get(a["cls_token"], -1)
        sp.update(C=C, patch=patch, stride=stride, cls_index=c, L=P + (c >= 0))
        orders = []
        for n in names:
            if n not in IMAGE_ORDERS:
                raise ValueError("%s: image_patches has no scan order %r" % (where, n))
            orders.append(image_order(*IMAGE_ORDERS[n], gh, gw, c))
    else:
        T, V = input_shape or (_int(meta, "data_lookback", where),
                               _int(meta, "data_variates", where))
        if a["cls_token"] not in ("none", None, False):
            raise ValueError("%s: %s takes no class token" % (where, ad))
        sp.update(T=T, V=V, revin=bool(a["revin"]), revin_affine=bool(a["revin_affine"]))
        if ad == "series_variate":
            sp["L"] = V
        else:
            if patch > T + stride:
                raise ValueError("%s: patch_size %d is longer than the lookback %d plus the end "
                                 "padding %d" % (where, patch, T, stride))
            sp.update(patch=patch, stride=stride, L=(T + stride - patch) // stride + 1, S=V)
        orders = []
        for n in names:
            if n not in SERIES_ORDERS:
                raise ValueError("%s: %s has no scan order %r" % (where, ad, n))
            orders.append(list(range(sp["L"]))[::-1] if SERIES_ORDERS[n] else list(range(sp["L"])))
    K = int(bb["n_branches"]) or min(len(orders), MAX_BRANCHES)
    if K > len(orders):
        raise ValueError("%s: %d branches but %d scan orders" % (where, K, len(orders)))
    sp.update(orders=orders, n_branches=K,
              schedule=[[(i * K + k) % len(orders) for k in range(K)]
                        for i in range(sp["n_layers"])])
    # heads: pooled position (tasks/pool.c ssm_head_pool_index), sizes
    pool = task.get("pool", "mean")
    if task["name"] in ("classify", "regress") and pool not in ("mean", "cls", "last"):
        raise ValueError("%s: task.pool %s: the %s head pools by mean, cls or last"
                         % (where, pool, task["name"]))
    if pool != "mean" and sp["S"] > 1:
        raise ValueError("%s: adapter %s makes %d sequences per sample: pool by the mean"
                         % (where, ad, sp["S"]))
    sp["pool_index"] = -1 if pool == "mean" else sp["L"] - 1 if pool == "last" else sp["cls_index"]
    if task["name"] == "classify":
        sp.update(head_in=D, head_out=int(task["num_classes"]))
    else:
        if ad == "image_patches":
            raise ValueError("%s: task %s needs a series adapter" % (where, task["name"]))
        sp["out_vars"] = _int(meta, "data_out_variates", where)
        if task["name"] == "forecast":
            sp["horizon"] = _int(meta, "data_horizon", where)
            sp.update(head_in=sp["S"] * sp["L"] * D // sp["V"], head_out=sp["horizon"])
        else:
            sp.update(head_in=D, head_out=sp["V"])
    return SsmkitModel(sp)


def load(path, input_shape=None, dtype=None, device=None, warn=True):
    """The model of an ssmkit checkpoint, its weights loaded with load_state_dict(strict=
    True). model.metadata keeps the file's metadata (for `save`). With warn (default), a
    2-branch model that is not an exact Vim model (it would load into Vim's code and
    compute something else) is reported loudly (`is_exact_vim`)."""
    meta = read_metadata(path)
    if "config" not in meta:
        raise ValueError("%s: no `config` metadata: not a checkpoint written by `ssmkit train` "
                         "(or by save(..., like=one))" % path)
    model = build(meta["config"], meta, input_shape, where=path)
    model.metadata = meta
    model.load_state_dict(load_file(path), strict=True)
    if dtype is not None or device is not None:
        model.to(device=device, dtype=dtype)
    if warn and model.spec["n_branches"] == 2:
        is_exact_vim(model, warn=True)
    return model.eval()


# ---- Vim -----------------------------------------------------------------------------
def vim_report(model):
    """(exact, text): whether every layer's 2 branches scan [identity, reverse] (Vim's
    bimamba v2), and the per-layer orders that say why not. model: SsmkitModel or path."""
    sp = _spec(model)
    names = sp["order_names"]
    layers = [[names[o] for o in row] for row in sp["schedule"]]
    ident = IDENTITY_NAMES[sp["adapter"]]
    if sp["n_branches"] > 2:
        return False, "%d branches per layer; Vim has 2 (names _c2.. are ssmkit's)" % sp["n_branches"]
    if sp["n_branches"] == 1:
        causal = all(l[0] in ident for l in layers)
        return False, ("1 branch per layer; Vim has 2 (%s)" % (
            "this is mamba_ssm's causal Mamba" if causal else "layers scan " + _runs(layers)))
    bad = [i for i, (f, r) in enumerate(layers) if f not in ident or r != "reverse"]
    if bad:
        return False, ("layers scan %s; Vim scans [%s, reverse] in every layer (first "
                       "difference: layer %d)" % (_runs(layers), ident[0], bad[0]))
    div = "True" if sp["merge"] == "mean" else "False"
    return True, ("exact Vim: [%s, reverse] in all %d layers; loads into Vim's "
                  "Mamba(bimamba_type='v2', if_divide_out=%s)" % (ident[0], len(layers), div))


def _runs(layers):
    """'[row, column] in layers 0, 2; [reverse, snake_reverse] in layers 1, 3'."""
    seen = {}
    for i, l in enumerate(layers):
        seen.setdefault(tuple(l), []).append(str(i))
    return "; ".join("[%s] in layer%s %s" % (", ".join(k), "s" if len(v) > 1 else "",
                                             ", ".join(v)) for k, v in seen.items())


class NotVimWarning(UserWarning):
    """A 2-branch checkpoint that loads into Vim's code but is not Vim's model."""


def is_exact_vim(model, warn=True):
    """True when the model (or checkpoint path) is an exact Vim model: 2 branches
    scanning [identity, reverse] in every layer. Else False, and with warn a loud
    warning: its weights have Vim's names and shapes, so they load into Vim's code
    without error, but Vim would compute a different model."""
    exact, why = vim_report(model)
    if exact or not warn:
        return exact
    if _spec(model)["n_branches"] == 2:
        msg = ("\n" + "!" * 78 + "\nNOT AN EXACT VIM MODEL: %s.\nIts tensors have Vim's names "
               "and shapes, so they load into Vim's code WITHOUT ERROR, but Vim scans\n"
               "[identity, reverse] in every layer and would compute a DIFFERENT model. "
               "Use ssmkit_torch's module.\n" % why + "!" * 78)
    else:
        msg = ("not an exact Vim model: %s; its tensors do not load into Vim's code (use "
               "ssmkit_torch's module)" % why)
    warnings.warn(msg, NotVimWarning, stacklevel=2)
    return False


def _spec(model):
    if isinstance(model, (str, os.PathLike)):
        meta = read_metadata(model)
        return build(meta["config"], meta, where=str(model)).spec
    return model.spec


# ---- save -----------------------------------------------------------------------------
def save(module, path, like=None, metadata=None, dtype=torch.float32):
    """Writes module's state_dict as a checkpoint ssmkit loads: the same tensor names,
    dtype float32 (ssmkit also reads F64, F16, BF16), and the metadata of `like` (a
    checkpoint path or a dict; default: the metadata `load` kept on the module), with
    `metadata` (a dict) updated over it. With `like` a path, every tensor name and shape
    must match its tensors (what ssmkit will ask for). Written to a temporary file beside
    path, then renamed."""
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in module.state_dict().items()}
    if like is None:
        meta = dict(getattr(module, "metadata", {}) or {})
    elif isinstance(like, dict):
        meta = dict(like)
    else:
        meta = read_metadata(like)
        with safe_open(like, framework="pt") as f:
            want = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
        have = {k: tuple(v.shape) for k, v in tensors.items()}
        if want != have:
            diff = sorted(set(want.items()) ^ set(have.items()))[:4]
            raise ValueError("save: %s's tensors differ from the module's (first: %s); ssmkit "
                             "would refuse the file" % (like, diff))
    meta.update(metadata or {})
    meta.setdefault("format", "pt")
    if "config" not in meta:
        raise ValueError("save: no `config` metadata (pass like= a checkpoint of this model)")
    meta = {str(k): str(v) for k, v in meta.items()}
    tmp = "%s.tmp%d" % (path, os.getpid())
    try:
        save_file(tensors, tmp, metadata=meta)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _main(argv):
    """python ssmkit_torch.py CKPT: the rebuilt model, its size and its Vim status."""
    if len(argv) != 2:
        print("usage: python ssmkit_torch.py CHECKPOINT.safetensors", file=sys.stderr)
        return 2
    model = load(argv[1], warn=False)
    n = sum(p.numel() for p in model.parameters())
    sp = model.spec
    print("%s: %s + %d layers x %d branches (%s merge, %s norm) + %s head, %d parameters"
          % (argv[1], sp["adapter"], sp["n_layers"], sp["n_branches"], sp["merge"], sp["norm"],
             sp["task"], n))
    exact, why = vim_report(model)
    print(("" if exact else "not ") + "an exact Vim model: " + why)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
