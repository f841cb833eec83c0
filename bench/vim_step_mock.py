"""Stand-ins for the two compiled extensions of bench/vim_step_torch.py, in plain PyTorch, with
the same call signatures and the same in-place contracts (the forward writes the conv output
into `out`; the backwards write dx, dz into the buffers they are given and accumulate the conv
weight gradients into fp32 zeros). They exist to test, on a CPU, the fast path's own code:
the layout changes, the recomputation and the gradient assembly around the kernels
(`vim_step_torch.py --check --mock-kernels`), against the reference path and autograd.

    selective_scan_cuda (mamba-ssm 2.3.2):
      fwd(u, delta, A, B, C, D, z, delta_bias, softplus) -> [out, x, out_z]
      bwd(u, delta, A, B, C, D, z, delta_bias, dout, x, out, dz, softplus, recompute_out_z)
        -> [du, ddelta, dA, dB, dC, dD, ddelta_bias, dz(, out_z)]
    causal_conv1d_cuda (causal-conv1d 1.7.0):
      causal_conv1d_fwd(x, weight, bias, seq_idx, initial_states, out, final_states_out, silu)
      causal_conv1d_bwd(x, weight, bias, dout, seq_idx, initial_states, dfinal_states, dx,
                        dweight, dbias, dinitial_states, silu)
"""
import torch
import torch.nn.functional as F


def _scan(u, delta, A, B, C, D, z, delta_bias, softplus):
    """The selective scan with z, in fp32 (B, C: [b, 1, N, L]); returns out (before the gate)
    and out_z, in u's dtype."""
    dtype = u.dtype
    u, delta = u.float(), delta.float()
    if delta_bias is not None:
        delta = delta + delta_bias[:, None].float()
    if softplus:
        delta = F.softplus(delta)
    Bf, Cf = B[:, 0].float(), C[:, 0].float()  # [b, N, L]
    dA = torch.exp(delta.unsqueeze(-1) * A.unsqueeze(1))  # [b, E, L, N]
    dBu = (delta * u).unsqueeze(-1) * Bf.transpose(1, 2).unsqueeze(1)
    h = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    ys = []
    for i in range(u.shape[2]):
        h = dA[:, :, i] * h + dBu[:, :, i]
        ys.append((h * Cf[:, :, i].unsqueeze(1)).sum(-1))
    y = torch.stack(ys, dim=-1)
    if D is not None:
        y = y + u * D[:, None]
    return y.to(dtype), (y * F.silu(z.float())).to(dtype)


class SelectiveScan:
    @staticmethod
    def fwd(u, delta, A, B, C, D, z, delta_bias, softplus):
        with torch.no_grad():
            out, out_z = _scan(u, delta, A, B, C, D, z, delta_bias, softplus)
        n_chunks = (u.shape[2] + 2047) // 2048
        x = u.new_zeros(u.shape[0], u.shape[1], n_chunks, 2 * A.shape[1], dtype=A.dtype)
        return [out, x, out_z]

    @staticmethod
    def bwd(u, delta, A, B, C, D, z, delta_bias, dout, x, out, dz, softplus, recompute_out_z):
        ins = [t.detach().requires_grad_() for t in (u, delta, A, B, C, D, z, delta_bias)]
        with torch.enable_grad():
            _, out_z = _scan(*ins, softplus)
            grads = torch.autograd.grad(out_z, ins, dout)
        du, ddelta, dA, dB, dC, dD, dzz, ddb = grads
        if dz is None:
            dz = torch.empty_like(z)
        dz.copy_(dzz)
        res = [du, ddelta, dA, dB.to(B.dtype), dC.to(C.dtype), dD, ddb, dz]
        if recompute_out_z:
            res.append(out_z.detach())
        return res


def _conv(x, weight, bias, silu):
    E, W = weight.shape
    y = F.conv1d(x.float(), weight.float().unsqueeze(1), bias.float(), padding=W - 1,
                 groups=E)[..., : x.shape[-1]]
    return F.silu(y) if silu else y


class CausalConv1d:
    @staticmethod
    def causal_conv1d_fwd(x, weight, bias, seq_idx, initial_states, out, final_states_out, silu):
        with torch.no_grad():
            out.copy_(_conv(x, weight, bias, silu))

    @staticmethod
    def causal_conv1d_bwd(x, weight, bias, dout, seq_idx, initial_states, dfinal_states, dx,
                          dweight, dbias, dinitial_states, silu):
        ins = [t.detach().requires_grad_() for t in (x, weight, bias)]
        with torch.enable_grad():
            y = _conv(*ins, silu)
            gx, gw, gb = torch.autograd.grad(y, ins, dout.float())
        dx.copy_(gx)
        dweight.add_(gw)
        dbias.add_(gb)
