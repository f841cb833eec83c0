"""Suite: ssmkit checkpoints through PyTorch and back (tools/pytorch/ssmkit_torch.py).

Trains tiny models of each kind with the ssmkit binary on generated data (a 12x16
4-class IDX image set, a 3-variate CSV series), rebuilds each with ssmkit_torch.load
from the file alone, and compares the module's outputs (float64) with ssmkit's own
(build/tests/torch/dump_outputs: the library's model_predict, float32) on the same
inputs: |torch - ssmkit| <= 1e-5 * max(1, max |ssmkit|). The float32 module is held
to 1e-4 on the same scale and its error printed too. Kinds: image_patches with a
middle / head / no class token, pool cls / mean / last, 1, 2 and 3 branches, a
per-layer schedule over 4 orders, overlapping patches, RMSNorm and LayerNorm, mean and
sum merge, final norm off, dt_rank / d_conv / expand off their defaults; series_variate
and series_patch with and without RevIN (affine and not), forecast (features M, MS)
and regress (pool mean, last). Then: weights edited in PyTorch and written by
ssmkit_torch.save load into ssmkit (dump_outputs, `ssmkit eval`) and move its outputs
exactly as PyTorch predicts; the Vim check says yes for [row, reverse] in every layer
and warns (NotVimWarning) otherwise; the module's test-set accuracy on the standardised
IDX images equals `ssmkit eval`'s; bad input is refused with its reason.

Run by tests/torch/test_torch_roundtrip.sh (skips without torch); SSMKIT_BIN names the
binary (default build/ssmkit), SSMKIT_TORCH_DRIVER the driver (default beside it).
"""
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import traceback
import warnings

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "pytorch"))
import ssmkit_torch as st  # noqa: E402

BIN = os.path.abspath(os.environ.get("SSMKIT_BIN") or os.path.join(ROOT, "build", "ssmkit"))
DRIVER = os.path.abspath(os.environ.get("SSMKIT_TORCH_DRIVER") or
                         os.path.join(os.path.dirname(BIN), "tests", "torch", "dump_outputs"))
TOL64, TOL32 = 1e-5, 1e-4
H, W = 12, 16  # the generated images
N = 6  # samples compared per model

IMAGE = """
data: {name: idx, path: %(dir)s/img, batch_size: 16, num_workers: 0}
adapter: {name: image_patches, %(adapter)s}
backbone: {d_model: 16, d_state: 4, %(backbone)s}
task: {name: classify, num_classes: 4, %(task)s}
optim: {lr: 0.01}
train: {epochs: 2, log_every: 1000}
run: {dir: %(dir)s/runs, name: %(name)s, progress: off, tensorboard: false}
"""
SERIES = """
data: {name: csv, path: %(dir)s/s.csv, lookback: 24, horizon: 8, batch_size: 16, num_workers: 0,
       %(data)s}
adapter: {%(adapter)s}
backbone: {d_model: 8, d_state: 4, %(backbone)s}
task: {%(task)s}
optim: {lr: 0.01}
train: {epochs: 1, max_steps: 8, log_every: 1000}
run: {dir: %(dir)s/runs, name: %(name)s, progress: off, tensorboard: false}
"""
# name: (template, {field: text}, exact Vim?)
CASES = {
    "img_schedule_cls_middle": (IMAGE, dict(
        adapter="patch_size: 4, stride: 2, cls_token: middle, "
                "orders: [row, column, reverse, snake_reverse]",
        backbone="n_layers: 3, n_branches: 2", task="pool: cls"), False),
    "img_3branch_head_layernorm_sum": (IMAGE, dict(
        # (with a head class token, a pooled cls and forward orders only, the class token
        # would see nothing but itself: one order runs backwards)
        adapter="patch_size: 4, cls_token: head, orders: [column, snake_reverse, row]",
        backbone="n_layers: 2, norm: layer, merge: sum, dt_rank: 3, d_conv: 3, expand: 1",
        task="pool: cls"), False),
    "img_vim_no_cls_last_no_final_norm": (IMAGE, dict(
        adapter="patch_size: 3, cls_token: none, orders: [row, reverse]",
        backbone="n_layers: 2, final_norm: false", task="pool: last"), True),
    "img_1branch_alternating_mean": (IMAGE, dict(
        adapter="patch_size: 4, stride: 3, cls_token: middle, orders: [snake, column_reverse]",
        backbone="n_layers: 2, n_branches: 1", task="pool: mean"), False),
    "series_variate_forecast_M_revin": (SERIES, dict(
        data="features: M", adapter="name: series_variate, orders: [forward, reverse], revin: true",
        backbone="n_layers: 2", task="name: forecast"), True),
    "series_patch_forecast_MS_affine_layernorm": (SERIES, dict(
        data="features: MS", adapter="name: series_patch, patch_size: 6, stride: 4, "
        "orders: [reverse, forward], revin: true, revin_affine: true",
        backbone="n_layers: 2, norm: layer", task="name: forecast"), False),
    "series_variate_regress_affine_sum": (SERIES, dict(
        data="features: MS", adapter="name: series_variate, orders: [row, reverse], "
        "revin: true, revin_affine: true", backbone="n_layers: 1, merge: sum",
        task="name: regress, pool: mean"), True),
    "series_patch_regress_S_last": (SERIES, dict(
        data="features: S", adapter="name: series_patch, patch_size: 8, stride: 8, orders: [row]",
        backbone="n_layers: 2", task="name: regress, pool: last"), False),
}


def write_idx(d):
    """12x16 grey images (not square, so that no column order is its own inverse), class
    k = a bright 5x5 square in quadrant k, over noise. Returns the test split: pixels
    [n, 1, 12, 16] and labels [n]."""
    rng = random.Random(7)
    test = ([], [])
    os.makedirs(os.path.join(d, "img"))
    for prefix, n in (("train", 96), ("t10k", 32)):
        with open(os.path.join(d, "img", prefix + "-images-idx3-ubyte"), "wb") as fi, \
                open(os.path.join(d, "img", prefix + "-labels-idx1-ubyte"), "wb") as fl:
            fi.write(struct.pack(">IIII", 0x803, n, H, W))
            fl.write(struct.pack(">II", 0x801, n))
            for i in range(n):
                k = i % 4
                img = [rng.randint(0, 90) for _ in range(H * W)]
                r0, c0 = (k // 2) * 6, (k % 2) * 8
                for r in range(r0, r0 + 5):
                    for c in range(c0, c0 + 5):
                        img[r * W + c] = 200 + rng.randint(0, 55)
                fi.write(bytes(img))
                fl.write(bytes([k]))
                if prefix == "t10k":
                    test[0].append(img)
                    test[1].append(k)
    return (torch.tensor(test[0], dtype=torch.float64).reshape(-1, 1, H, W),
            torch.tensor(test[1]))


def write_csv(d):
    with open(os.path.join(d, "s.csv"), "w") as f:
        f.write("date,a,b,OT\n")
        for t in range(300):
            f.write("d%d,%.5f,%.5f,%.5f\n" % (t, math.sin(t / 4), math.cos(t / 7) + t / 300,
                                             math.sin(t / 3) * math.cos(t / 11)))


def sh(args, expect=0):
    r = subprocess.run(args, capture_output=True, text=True)
    if expect is not None and r.returncode != expect:
        raise AssertionError("%s exited %d (expected %d):\n%s%s" % (
            " ".join(args), r.returncode, expect, r.stdout[-2000:], r.stderr[-2000:]))
    return r


def write_f32(path, t):
    v = t.reshape(-1).tolist()
    with open(path, "wb") as f:
        f.write(struct.pack("<%df" % len(v), *v))


def read_f32(path):
    with open(path, "rb") as f:
        b = f.read()
    return torch.tensor(struct.unpack("<%df" % (len(b) // 4), b), dtype=torch.float64)


def inputs(model, seed):
    """N random inputs of the model's shape (series: with a level and a scale, for RevIN)."""
    g = torch.Generator().manual_seed(seed)
    sp = model.spec
    if sp["adapter"] == "image_patches":
        return torch.randn(N, sp["C"], H, W, generator=g, dtype=torch.float64)
    x = torch.randn(N, sp["T"], sp["V"], generator=g, dtype=torch.float64)
    return x * 1.5 + torch.linspace(-2, 3, sp["V"], dtype=torch.float64)


def ssmkit_outputs(ckpt, x, tag):
    xin, yout = ckpt + "." + tag + ".in", ckpt + "." + tag + ".out"
    write_f32(xin, x)
    sh([DRIVER, ckpt, xin, str(x.shape[0]), yout])
    return read_f32(yout)


def torch_outputs(model, x, dtype=torch.float64):
    with torch.no_grad():
        return model.to(dtype)(x.to(dtype)).reshape(-1).to(torch.float64)


def err(a, b):
    """max |a - b| on the scale of b (at least 1)."""
    return (a - b).abs().max().item() / max(1.0, b.abs().max().item())


class Suite:
    def __init__(self, d, test_images):
        self.d = d
        self.ckpt = {}
        self.test_images = test_images

    def train(self, name):
        tmpl, fields, _ = CASES[name]
        cfg = os.path.join(self.d, name + ".yaml")
        with open(cfg, "w") as f:
            f.write(tmpl % dict(fields, dir=self.d, name=name))
        sh([BIN, "train", cfg])
        self.ckpt[name] = os.path.join(self.d, "runs", name, "best.safetensors")
        return self.ckpt[name]

    def compare(self, name):
        ckpt = self.train(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", st.NotVimWarning)
            model = st.load(ckpt)
        x = inputs(model, seed=len(name))
        ref = ssmkit_outputs(ckpt, x, "a")
        e64 = err(torch_outputs(model, x), ref)
        e32 = err(torch_outputs(model, x, torch.float32), ref)
        print("  %s: %d outputs, max |ssmkit| %.3g, error float64 %.2e, float32 %.2e"
              % (name, ref.numel(), ref.abs().max().item(), e64, e32))
        sp = model.spec
        k = {"classify": sp["head_out"], "regress": sp.get("out_vars"),
             "forecast": sp.get("horizon", 0) * sp.get("out_vars", 0)}[sp["task"]]
        assert ref.numel() == N * k, "%s: %d outputs, expected %d x %d" % (name, ref.numel(), N, k)
        assert e64 <= TOL64, "%s: float64 module off by %.3g (bar %g)" % (name, e64, TOL64)
        assert e32 <= TOL32, "%s: float32 module off by %.3g (bar %g)" % (name, e32, TOL32)

    def vim_checks(self):
        for name, (_, _, vim) in CASES.items():
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                got = st.is_exact_vim(self.ckpt[name])
            assert got == vim, "%s: is_exact_vim %s, expected %s" % (name, got, vim)
            loud = [x for x in w if issubclass(x.category, st.NotVimWarning)]
            assert bool(loud) == (not vim), "%s: %d NotVimWarning(s)" % (name, len(loud))
            two = st.load(self.ckpt[name], warn=False).spec["n_branches"] == 2
            if loud and two:  # the trap: Vim's code takes the weights and computes another model
                assert "WITHOUT ERROR" in str(loud[0].message), loud[0].message
            elif loud:  # other branch counts do not even load into Vim's code
                assert "do not load into Vim" in str(loud[0].message), loud[0].message
        # load() warns by itself only where the trap is: 2 branches that Vim's code takes
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            st.load(self.ckpt["img_schedule_cls_middle"])
            st.load(self.ckpt["img_vim_no_cls_last_no_final_norm"])
        msgs = [str(x.message) for x in w if issubclass(x.category, st.NotVimWarning)]
        assert len(msgs) == 1 and "[row, column] in layers 0, 2" in msgs[0], msgs

    def accuracy(self):
        """The test split classified by the module, the pixels standardised as the data
        does it (x / 255 - data_mean.<c>) / data_std.<c>, scores what `ssmkit eval` says."""
        for name in ("img_schedule_cls_middle", "img_vim_no_cls_last_no_final_norm"):
            ckpt = self.ckpt[name]
            model = st.load(ckpt, warn=False).double()
            meta = st.read_metadata(ckpt)
            x = (self.test_images[0] / 255 - float(meta["data_mean.0"])) / float(meta["data_std.0"])
            with torch.no_grad():
                pred = model(x).argmax(1)
            acc = (pred == self.test_images[1]).double().mean().item()
            r = sh([BIN, "eval", os.path.join(self.d, name + ".yaml"), "--ckpt", ckpt])
            said = float(r.stdout.split('"accuracy":')[1].split(",")[0])
            print("  %s: test accuracy %.4f in PyTorch, %.4f by ssmkit eval" % (name, acc, said))
            assert abs(acc - said) < 1e-6, "%s: accuracy %g vs ssmkit's %g" % (name, acc, said)

    def edit_and_save(self, name, edit):
        """Edit weights in PyTorch, save, and check that ssmkit loads the file and its
        outputs move to what PyTorch computes for the edited model."""
        ckpt = self.ckpt[name]
        model = st.load(ckpt, warn=False)
        x = inputs(model, seed=99)
        before = ssmkit_outputs(ckpt, x, "b")
        with torch.no_grad():
            edit(model)
        want = torch_outputs(model, x)
        out = ckpt.replace(".safetensors", "_edited.safetensors")
        st.save(model, out, like=ckpt)
        after = ssmkit_outputs(out, x, "c")
        moved, e = err(after, before), err(after, want)
        print("  %s: edited weights moved ssmkit's outputs by %.3g; ssmkit vs PyTorch %.2e"
              % (name, moved, e))
        assert e <= TOL64, "%s: edited model off by %.3g" % (name, e)
        assert moved > 1000 * TOL64, "%s: the edit did not move the outputs (%.3g)" % (name, moved)
        assert st.read_metadata(out) == st.read_metadata(ckpt), "metadata not copied"
        return out

    def edits(self):
        def img(m):
            m.layers[0].mixer.A_b_log.add_(0.25)
            m.layers[2].mixer.in_proj.weight.mul_(1.1)
            m.patch_embed.proj.weight.mul_(0.9)
            m.head.bias.add_(torch.tensor([0.5, -0.5, 0.0, 0.25], dtype=m.head.bias.dtype))
        out = self.edit_and_save("img_schedule_cls_middle", img)
        cfg = os.path.join(self.d, "img_schedule_cls_middle.yaml")
        r = sh([BIN, "eval", cfg, "--ckpt", out])  # the CLI takes the PyTorch-written file
        assert '"accuracy":' in r.stdout, r.stdout

        def ser(m):
            m.revin.affine_weight.mul_(1.3)
            m.W_pos.add_(0.1)
            m.layers[1].mixer.D_b.add_(0.5)
            m.head.weight.mul_(1.2)
        self.edit_and_save("series_patch_forecast_MS_affine_layernorm", ser)

    def refusals(self):
        ckpt = self.ckpt["img_schedule_cls_middle"]
        model = st.load(ckpt, warn=False)
        x = inputs(model, seed=3)
        xin = os.path.join(self.d, "short.in")
        write_f32(xin, x[:-1])
        r = sh([DRIVER, ckpt, xin, str(N), xin + ".out"], expect=1)
        assert "short.in: expected %d float32 values" % (N * H * W) in r.stderr, r.stderr
        # a module saved "like" a checkpoint of another model: refused before writing
        other = self.ckpt["img_3branch_head_layernorm_sum"]
        try:
            st.save(model, os.path.join(self.d, "bad.safetensors"), like=other)
            raise AssertionError("save(like=another model) was accepted")
        except ValueError as e:
            assert "tensors differ" in str(e), e
        assert not os.path.exists(os.path.join(self.d, "bad.safetensors"))
        # an adapter the module does not rebuild is named
        meta = st.read_metadata(ckpt)
        odd = os.path.join(self.d, "audio.safetensors")
        st.save(model, odd, metadata={"config": meta["config"].replace(
            'name: "image_patches"', 'name: "audio_patches"')})
        try:
            st.load(odd)
            raise AssertionError("an audio_patches checkpoint was accepted")
        except NotImplementedError as e:
            assert "audio.safetensors: adapter audio_patches is not supported" in str(e), e


def main():
    for path in (BIN, DRIVER):
        if not os.access(path, os.X_OK):
            print("test_torch_roundtrip: %s missing (make %s)" % (path, os.path.relpath(path, ROOT)))
            return 1
    d = tempfile.mkdtemp(prefix="ssmkit_torch_")
    test_images = write_idx(d)
    write_csv(d)
    s = Suite(d, test_images)
    tests = [("compare " + n, (lambda n=n: s.compare(n))) for n in CASES]
    tests += [("vim check", s.vim_checks), ("test-set accuracy", s.accuracy),
              ("edit, save, reload", s.edits),
              ("refusals", s.refusals)]
    passed = failed = 0
    print("torch %s; ssmkit %s" % (torch.__version__, BIN))
    for label, fn in tests:
        try:
            fn()
            passed += 1
            print("ok   %s" % label)
        except Exception:  # every failure is reported, the suite goes on
            failed += 1
            print("FAIL %s\n%s" % (label, traceback.format_exc()))
    shutil.rmtree(d, ignore_errors=True)
    print("torch round trip: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
