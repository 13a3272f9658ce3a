#!/usr/bin/python3
"""Golden values for stages/train/loss and stages/train/optim, from PyTorch.

Run from the repository root with Debian's interpreter (torch 1.13):

    /usr/bin/python3 stages/train/loss/testdata/make_golden.py

It writes
  stages/train/loss/testdata/ntxent_golden.json  NT-Xent loss and dL/dz at
      tau = 0.5 and 0.1 (the definition of shared/bench/ntxent.py, repeated
      here so the file stands alone), plus the mean positive and negative
      cosine similarity and the top-1 contrastive accuracy;
  stages/train/optim/testdata/optim_golden.json  the parameters after each of
      3 steps of torch.optim.SGD (momentum 0.9, weight decay 1e-4, Nesterov off
      and on, and one run with dampening), of LARS written here exactly as
      google-research/simclr lars_optimizer.py (classic momentum, Nesterov off
      and on, and the non-classic variant) and of torch.optim.AdamW, all from
      the same initial parameters and fixed per-step gradients and learning
      rates. Parameters named *.bias or bn.* are "no decay" (batch-norm or
      bias): they get weight decay 0 (SGD, AdamW through a second param group)
      and no LARS adaptation. "head.weight" starts at zero to hit LARS's
      zero-norm guard.

Tensors are float32 values written with 9 significant digits (which
round-trip a float32 exactly); scalars (loss, similarities) are doubles.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(0)
HERE = os.path.dirname(os.path.abspath(__file__))
OPTIM_OUT = os.path.join(HERE, "..", "..", "optim", "testdata", "optim_golden.json")


def flat(t):
    # 9 significant digits round-trip a float32 exactly and keep the file small.
    return [float("%.9g" % x) for x in t.detach().to(torch.float64).reshape(-1).tolist()]


def nt_xent(z, tau):
    n2 = z.shape[0]
    n = n2 // 2
    zn = F.normalize(z, dim=1)
    sim = zn @ zn.t() / tau
    eye = torch.eye(n2, dtype=torch.bool)
    sim = sim.masked_fill(eye, float("-inf"))
    target = torch.cat([torch.arange(n, n2), torch.arange(0, n)])
    return F.cross_entropy(sim, target), zn, sim, target


def ntxent_cases():
    cases = []
    g = torch.Generator().manual_seed(1)
    for (n, d, scale) in [(4, 8, 1.0), (16, 32, 3.0), (32, 32, 0.2)]:
        z0 = (torch.randn(2 * n, d, generator=g) * scale).float()
        # Make the positives related, as real views are.
        z0[n:] = 0.6 * z0[:n] + 0.8 * z0[n:]
        for tau in (0.5, 0.1):
            z = z0.clone().requires_grad_(True)
            loss, zn, sim, target = nt_xent(z, tau)
            loss.backward()
            with torch.no_grad():
                cos = zn @ zn.t()
                m = 2 * n
                pos = cos[torch.arange(m), target].mean().item()
                mask = ~torch.eye(m, dtype=torch.bool)
                mask[torch.arange(m), target] = False
                neg = cos[mask].mean().item() if m > 2 else 0.0
                acc = (sim.argmax(dim=1) == target).double().mean().item()
            cases.append({
                "n": n, "d": d, "tau": tau,
                "z": flat(z0), "loss": loss.item(), "grad": flat(z.grad),
                "pos_sim": pos, "neg_sim": neg, "accuracy": acc,
            })
    return cases


# ---- optimizers ---------------------------------------------------------

SHAPES = [("conv.weight", (4, 3, 3, 3)), ("bn.weight", (4,)), ("bn.bias", (4,)),
          ("fc.weight", (5, 4)), ("fc.bias", (5,)), ("head.weight", (3, 5))]
LRS = [0.1, 0.05, 0.025]
STEPS = 3


def no_decay(name):
    return name.startswith("bn.") or name.endswith(".bias")


def initial():
    g = torch.Generator().manual_seed(2)
    params = {}
    for name, shape in SHAPES:
        if name == "head.weight":
            params[name] = torch.zeros(shape)
        elif name == "bn.weight":
            params[name] = 1 + 0.1 * torch.randn(shape, generator=g)
        else:
            params[name] = 0.3 * torch.randn(shape, generator=g)
    grads = [{name: 0.05 * torch.randn(shape, generator=g) for name, shape in SHAPES}
             for _ in range(STEPS)]
    return params, grads


def run_torch(make_opt, params0, grads):
    ps = {k: torch.nn.Parameter(v.clone()) for k, v in params0.items()}
    opt = make_opt(ps)
    out = []
    for step in range(STEPS):
        for group in opt.param_groups:
            group["lr"] = LRS[step]
        for k, p in ps.items():
            p.grad = grads[step][k].clone()
        opt.step()
        out.append({k: flat(p) for k, p in ps.items()})
    return out


def groups(ps, wd):
    return [{"params": [p for k, p in ps.items() if not no_decay(k)], "weight_decay": wd},
            {"params": [p for k, p in ps.items() if no_decay(k)], "weight_decay": 0.0}]


def lars_simclr(params0, grads, momentum, wd, eta, nesterov, classic):
    """LARSOptimizer.apply_gradients of google-research/simclr, in torch."""
    ps = {k: v.clone() for k, v in params0.items()}
    vs = {k: torch.zeros_like(v) for k, v in params0.items()}
    out = []
    for step in range(STEPS):
        lr = LRS[step]
        for name in ps:
            param, grad, v = ps[name], grads[step][name].clone(), vs[name]
            use_wd = bool(wd) and not no_decay(name)
            adapt = not no_decay(name)
            if use_wd:
                grad = grad + wd * param
            if classic:
                trust = torch.tensor(1.0)
                if adapt:
                    w_norm = torch.norm(param, p=2)
                    g_norm = torch.norm(grad, p=2)
                    trust = torch.where(w_norm > 0,
                                        torch.where(g_norm > 0, eta * w_norm / g_norm, torch.tensor(1.0)),
                                        torch.tensor(1.0))
                scaled_lr = lr * trust
                next_v = momentum * v + scaled_lr * grad
                update = momentum * next_v + scaled_lr * grad if nesterov else next_v
                next_param = param - update
            else:
                next_v = momentum * v + grad
                update = momentum * next_v + grad if nesterov else next_v
                trust = torch.tensor(1.0)
                if adapt:
                    w_norm = torch.norm(param, p=2)
                    v_norm = torch.norm(update, p=2)
                    trust = torch.where(w_norm > 0,
                                        torch.where(v_norm > 0, eta * w_norm / v_norm, torch.tensor(1.0)),
                                        torch.tensor(1.0))
                scaled_lr = trust * lr
                next_param = param - scaled_lr * update
            ps[name], vs[name] = next_param, next_v
        out.append({k: flat(p) for k, p in ps.items()})
    return out


def optim_cases():
    params0, grads = initial()
    runs = []
    for nesterov in (False, True):
        runs.append({"opt": "sgd", "momentum": 0.9, "dampening": 0.0, "weight_decay": 1e-4,
                     "nesterov": nesterov,
                     "steps": run_torch(lambda ps: torch.optim.SGD(groups(ps, 1e-4), lr=LRS[0], momentum=0.9,
                                                                  nesterov=nesterov), params0, grads)})
    runs.append({"opt": "sgd", "momentum": 0.9, "dampening": 0.1, "weight_decay": 1e-4, "nesterov": False,
                 "steps": run_torch(lambda ps: torch.optim.SGD(groups(ps, 1e-4), lr=LRS[0], momentum=0.9,
                                                              dampening=0.1), params0, grads)})
    for nesterov, classic in ((False, True), (True, True), (False, False)):
        runs.append({"opt": "lars", "momentum": 0.9, "weight_decay": 1e-4, "eta": 0.001,
                     "nesterov": nesterov, "classic": classic,
                     "steps": lars_simclr(params0, grads, 0.9, 1e-4, 0.001, nesterov, classic)})
    runs.append({"opt": "adamw", "weight_decay": 1e-2, "betas": [0.9, 0.999], "eps": 1e-8,
                 "steps": run_torch(lambda ps: torch.optim.AdamW(groups(ps, 1e-2), lr=LRS[0]),
                                    params0, grads)})
    return {
        "lrs": LRS,
        "params": [{"name": k, "shape": list(s), "no_decay": no_decay(k), "value": flat(params0[k]),
                    "grads": [flat(grads[t][k]) for t in range(STEPS)]} for k, s in SHAPES],
        "runs": runs,
    }


def main():
    with open(os.path.join(HERE, "ntxent_golden.json"), "w") as f:
        json.dump({"torch": torch.__version__, "cases": ntxent_cases()}, f)
    os.makedirs(os.path.dirname(OPTIM_OUT), exist_ok=True)
    with open(OPTIM_OUT, "w") as f:
        json.dump({"torch": torch.__version__, **optim_cases()}, f)


if __name__ == "__main__":
    main()
