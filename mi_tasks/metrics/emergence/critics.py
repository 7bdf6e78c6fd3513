"""Neural MI bounds from a trained critic, held out from the rows it was trained on.

The separable critic is ``s(x, y) = f(x)·g(y)``: rows are standardized, optionally projected to
``proj_dim`` dimensions (PCA or a seeded random map, fitted on the train split only), the critic is
trained on the train split and the bound is reported on a held-out split with the chosen critic:
never the maximum over training.

Neural bounds (all in bits) and their bias:

- ``infonce`` (default of ``estimate_mi``): I >= E[log(K e^{s_ii} / sum_j e^{s_ij})], a lower
  bound with low variance that can never exceed log2(K), K = negatives per evaluation block (the
  held-out split, up to ``eval_block`` rows). Near that cap it underestimates.
- ``dv`` (Donsker–Varadhan / MINE): E_P[s] − log E_Q[e^s]; no cap but high variance; the
  plug-in log of a sample mean makes it biased upward on small splits.
- ``smile``: DV with the partition term's e^s clipped to [e^-tau, e^tau], critic trained by the
  Jensen–Shannon bound's gradient (Song & Ermon 2020): lower variance than DV, biased (the
  clipping can move it either way; it cannot report more than tau nats above E_P[s]).
- ``mine_paper`` (for comparison with the Information Emergence paper only, **biased upward**):
  the paper's protocol — a joint critic T([x, y]) (``PAPER_CRITIC_LAYERS`` LeakyReLU layers) trained
  with the DV bound on the full batch of all rows (negatives: y shuffled each step), reporting the
  maximum over training of the training-batch value. No held-out data, so the critic can memorise
  pairs, and the maximum of a noisy curve adds its own upward bias.

Training runs on ``num_threads`` CPU threads (default 1) with a seeded torch generator, so the
same seed gives identical numbers whatever the machine's thread count.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ...errors import MiTasksError
from .mi_estimate import BIAS_NOTES, LN2, MIN_SAMPLES, MIEstimate
from .threads import torch_threads


PAPER_CRITIC_LAYERS = 10


class _Projector:
    """Standardize with train statistics, then keep ``dim`` PCA or random directions (fitted on train)."""

    def __init__(self, train: np.ndarray, dim: int | None, kind: str, rng: np.random.Generator) -> None:
        self.mean = train.mean(0)
        self.scale = train.std(0)
        self.scale[self.scale < 1e-8 * max(1.0, float(self.scale.max(initial=0.0)))] = 1.0
        z = (train - self.mean) / self.scale
        d = z.shape[1]
        self.W: np.ndarray | None = None
        # torch (run under the caller's thread limit) rather than numpy's LAPACK, whose own thread
        # pool stalls badly on a busy machine
        if dim is not None and dim < d:
            if kind == "pca":
                zt = torch.from_numpy(z)
                cov = zt.T @ zt / max(len(z) - 1, 1)
                evals, evecs = torch.linalg.eigh(cov)  # ascending
                k = min(dim, len(z) - 1)
                top = evals[-k:].flip(0).clamp_min(1e-12)
                self.W = (evecs[:, -k:].flip(1) / top.sqrt()).numpy()  # whitened principal components
            else:
                q, _ = torch.linalg.qr(torch.from_numpy(rng.standard_normal((d, dim))))
                self.W = q.numpy()
        self.out_dim = d if self.W is None else self.W.shape[1]

    def __call__(self, a: np.ndarray) -> torch.Tensor:
        z = (a - self.mean) / self.scale
        if self.W is not None:
            z = z @ self.W
        return torch.from_numpy(np.ascontiguousarray(z, dtype=np.float32))


class _SkipMLP(nn.Module):
    """A linear map plus a 2-hidden-layer ReLU MLP: the linear path learns bilinear critics fast
    (optimal for Gaussians), the MLP the rest."""

    def __init__(self, d_in: int, hidden: int, d_out: int) -> None:
        super().__init__()
        self.linear = nn.Linear(d_in, d_out)
        self.mlp = nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, d_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) + self.mlp(x)


class _SeparableCritic(nn.Module):
    """s(x, y) = f(x)·g(y) / sqrt(k): all B×B pair scores from 2B network evaluations."""

    def __init__(self, dx: int, dy: int, hidden: int, embed: int) -> None:
        super().__init__()
        self.f = _SkipMLP(dx, hidden, embed)
        self.g = _SkipMLP(dy, hidden, embed)
        self.temp = math.sqrt(embed)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.f(x) @ self.g(y).T / self.temp


class _JointCritic(nn.Module):
    """T(x, y) = MLP([x, y]) with ``layers`` linear layers and LeakyReLU between them (the IE paper's MINE critic)."""

    def __init__(self, d_in: int, hidden: int, layers: int) -> None:
        super().__init__()
        mods: list[nn.Module] = []
        d = d_in
        for _ in range(layers - 1):
            mods += [nn.Linear(d, hidden), nn.LeakyReLU()]
            d = hidden
        mods.append(nn.Linear(d, 1))
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, y], dim=1)).squeeze(1)


def _mine_paper_bits(x: torch.Tensor, y: torch.Tensor, hidden: int, steps: int, lr: float, seed: int,
                     gen: torch.Generator) -> tuple[float, float]:
    """(max over training, last value) of the full-batch DV bound in bits: the paper's biased protocol."""
    n = x.shape[0]
    torch_state = torch.random.get_rng_state()
    torch.manual_seed(int(seed))
    try:
        critic = _JointCritic(x.shape[1] + y.shape[1], hidden, PAPER_CRITIC_LAYERS)
    finally:
        torch.random.set_rng_state(torch_state)
    opt = torch.optim.Adam(critic.parameters(), lr=lr, foreach=True)
    best, last = -math.inf, -math.inf
    for _ in range(steps):
        neg = critic(x, y[torch.randperm(n, generator=gen)])  # marginal pairs: y shuffled
        dv = critic(x, y).mean() - (torch.logsumexp(neg, dim=0) - math.log(n))
        last = float(dv.detach()) / LN2
        if math.isfinite(last):
            best = max(best, last)
        opt.zero_grad(set_to_none=True)
        (-dv).backward()
        opt.step()
    return best, last


def _bound_nats(scores: torch.Tensor, method: str, tau: float) -> torch.Tensor:
    """The chosen bound from a K×K score matrix whose diagonal holds the positive pairs."""
    k = scores.shape[0]
    diag = scores.diagonal()
    if method == "infonce":
        return (diag - torch.logsumexp(scores, dim=1)).mean() + math.log(k)
    mask = ~torch.eye(k, dtype=torch.bool)
    off = scores[mask]
    if method == "dv":
        return diag.mean() - (torch.logsumexp(off, dim=0) - math.log(off.numel()))
    # SMILE (Song & Ermon 2020): the value is DV with the partition term's scores clipped to
    # [-tau, tau]; the gradient is the Jensen-Shannon (f-GAN) bound's, which keeps the
    # unclipped positive scores from running away.
    dv = diag.mean() - (torch.logsumexp(off.clamp(-tau, tau), dim=0) - math.log(off.numel()))
    js = -F.softplus(-diag).mean() - F.softplus(off).mean()
    return js + (dv - js).detach()


def _blocked_bits(critic: nn.Module, x: torch.Tensor, y: torch.Tensor, method: str, tau: float, block: int) -> float:
    """The bound averaged over consecutive blocks of ``block`` rows (rows are already shuffled)."""
    n = x.shape[0]
    nb = max(1, n // block)
    edges = np.linspace(0, n, nb + 1).astype(int)
    vals, weights = [], []
    with torch.no_grad():
        for a, b in zip(edges[:-1], edges[1:]):
            vals.append(float(_bound_nats(critic(x[a:b], y[a:b]), method, tau)))
            weights.append(b - a)
    return float(np.average(vals, weights=weights)) / LN2


def mine_paper_estimate(xa: np.ndarray, ya: np.ndarray, proj_dim: int | None, projection: str, hidden: int,
                         steps: int, lr: float, seed: int, num_threads: int | None) -> MIEstimate:
    """The IE paper's protocol: all rows, full batch, the maximum over training (biased upward)."""
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(int(seed))
    with torch_threads(num_threads):
        px = _Projector(xa, proj_dim, projection, rng)
        py = _Projector(ya, proj_dim, projection, rng)
        best, last = _mine_paper_bits(px(xa), py(ya), hidden, steps, lr, seed, gen)
    if not math.isfinite(best):
        raise MiTasksError("the mine_paper estimate diverged (non-finite); lower lr")
    settings = dict(proj_dim=proj_dim, projection=projection, hidden=hidden, layers=PAPER_CRITIC_LAYERS,
                    steps=steps, lr=lr, seed=seed, dim_x=xa.shape[1], dim_y=ya.shape[1], critic="joint",
                    batch="full", report="max over training")
    return MIEstimate(bits=best, train_bits=last, method="mine_paper", n_train=len(xa), n_eval=0,
                      upper_limit_bits=None, bias=BIAS_NOTES["mine_paper"], settings=settings)


@dataclass(frozen=True)
class CriticRun:
    """How a neural bound's critic is trained and evaluated (the settings estimate_mi passes on)."""

    method: str
    hidden: int
    embed: int
    steps: int
    batch_size: int
    lr: float
    weight_decay: float
    val_fraction: float
    eval_every: int
    eval_block: int
    tau: float
    seed: int


def neural_estimate(xa: np.ndarray, ya: np.ndarray, run: CriticRun, proj_dim: int | None, projection: str,
                     eval_fraction: float, num_threads: int | None) -> MIEstimate:
    """A held-out neural bound: split the rows, train the critic on one part, evaluate it on the other."""
    n = xa.shape[0]
    n_eval = int(round(n * eval_fraction))
    n_train = n - n_eval
    if n < MIN_SAMPLES or n_eval < 2 or n_train < 2:
        raise MiTasksError(f"too few samples for an MI estimate: got {n} rows, need at least {MIN_SAMPLES} "
                           "(hundreds for a useful estimate)")
    rng = np.random.default_rng(run.seed)
    order = rng.permutation(n)
    tr, ev = order[:n_train], order[n_train:]
    gen = torch.Generator().manual_seed(int(run.seed))
    with torch_threads(num_threads):
        px = _Projector(xa[tr], proj_dim, projection, rng)
        py = _Projector(ya[tr], proj_dim, projection, rng)
        xt, yt, xe, ye = px(xa[tr]), py(ya[tr]), px(xa[ev]), py(ya[ev])
        critic, n_fit, best_step = _train_critic(run, xt, yt, px.out_dim, py.out_dim, gen)
        block = min(run.eval_block, n_eval)
        bits = _blocked_bits(critic, xe, ye, run.method, run.tau, block)
        m = min(n_fit, n_eval)
        train_bits = _blocked_bits(critic, xt[:m], yt[:m], run.method, run.tau, min(run.eval_block, m))
    if not math.isfinite(bits):
        raise MiTasksError(f"the {run.method} estimate diverged (non-finite); use method='infonce' or lower lr")
    cap = math.log2(block) if run.method == "infonce" else None
    settings = dict(proj_dim=proj_dim, projection=projection, hidden=run.hidden, embed=run.embed, steps=run.steps,
                    batch_size=run.batch_size, lr=run.lr, weight_decay=run.weight_decay, eval_fraction=eval_fraction,
                    val_fraction=run.val_fraction, best_step=best_step, eval_block=run.eval_block,
                    tau=run.tau if run.method == "smile" else None, seed=run.seed,
                    dim_x=xa.shape[1], dim_y=ya.shape[1], critic="separable")
    return MIEstimate(bits=bits, train_bits=train_bits, method=run.method, n_train=n_train, n_eval=n_eval,
                      upper_limit_bits=cap, bias=BIAS_NOTES[run.method], settings=settings)


def _train_critic(run: CriticRun, xt: torch.Tensor, yt: torch.Tensor, dim_x: int, dim_y: int,
                  gen: torch.Generator) -> tuple[torch.nn.Module, int, int]:
    """Adam on minibatches; a validation slice of the train rows picks the checkpoint (early stopping).

    The held-out eval rows are touched once, by the chosen critic only. Returns the critic, the
    number of rows it was fitted on and the chosen step.
    """
    torch_state = torch.random.get_rng_state()
    torch.manual_seed(int(run.seed))  # nn.Linear initialisation draws from the global generator
    try:
        critic = _SeparableCritic(dim_x, dim_y, run.hidden, run.embed)
    finally:
        torch.random.set_rng_state(torch_state)
    opt = torch.optim.Adam(critic.parameters(), lr=run.lr, weight_decay=run.weight_decay, foreach=True)
    n_train = len(xt)
    n_val = int(round(n_train * run.val_fraction)) if run.val_fraction > 0 else 0
    n_fit = n_train - n_val
    if n_val and (n_val < 2 or n_fit < 2):
        n_val, n_fit = 0, n_train
    xf, yf, xv, yv = xt[:n_fit], yt[:n_fit], xt[n_fit:], yt[n_fit:]
    bs = min(run.batch_size, n_fit)
    perm = torch.randperm(n_fit, generator=gen)
    pos, best, best_state, best_step = 0, -math.inf, None, run.steps
    for step in range(1, run.steps + 1):
        if pos + bs > n_fit:
            perm, pos = torch.randperm(n_fit, generator=gen), 0
        idx = perm[pos:pos + bs]
        pos += bs
        loss = -_bound_nats(critic(xf[idx], yf[idx]), run.method, run.tau)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if n_val and (step % run.eval_every == 0 or step == run.steps):
            v = _blocked_bits(critic, xv, yv, run.method, run.tau, min(run.eval_block, n_val))
            if v > best:
                best, best_step = v, step
                best_state = {k: t.detach().clone() for k, t in critic.state_dict().items()}
    if best_state is not None:
        critic.load_state_dict(best_state)
    return critic, n_fit, best_step
