"""Neural mutual-information estimators for paired continuous samples, validated on Gaussians.

``estimate_mi(x, y)`` standardizes both sides, optionally projects them to ``proj_dim``
dimensions (PCA or a seeded random map, fitted on the train split only), trains a separable
critic ``s(x, y) = f(x)·g(y)`` on the train split and reports the bound evaluated on a
held-out split with the final critic: never the maximum over training, which is biased upward
(the practice of MINE-style reports, including the Information Emergence paper).

Bounds (all in bits) and their bias:

- ``infonce`` (default): I >= E[log(K e^{s_ii} / sum_j e^{s_ij})], a lower bound with low
  variance that can never exceed log2(K), K = negatives per evaluation block (the held-out
  split, up to ``eval_block`` rows). Near that cap it underestimates.
- ``dv`` (Donsker–Varadhan / MINE): E_P[s] − log E_Q[e^s]; no cap but high variance; the
  plug-in log of a sample mean makes it biased upward on small splits.
- ``smile``: DV with the partition term's e^s clipped to [e^-tau, e^tau], critic trained by the
  Jensen–Shannon bound's gradient (Song & Ermon 2020): lower variance than DV, biased (the
  clipping can move it either way; it cannot report more than tau nats above E_P[s]).

Training runs on ``num_threads`` CPU threads (default 1) with a seeded torch generator, so the
same seed gives identical numbers whatever the machine's thread count.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .errors import MiTasksError

METHODS = ("infonce", "dv", "smile")
PROJECTIONS = ("pca", "random")
LN2 = math.log(2.0)
MIN_SAMPLES = 20


@dataclass
class MIEstimate:
    """A held-out MI estimate in bits with the settings and the bound's known bias."""

    bits: float
    train_bits: float
    method: str
    n_train: int
    n_eval: int
    upper_limit_bits: float | None
    bias: str
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


BIAS_NOTES = {
    "infonce": "InfoNCE lower bound; cannot exceed log2(K) with K negatives per eval block, "
               "underestimates as the true MI nears that cap",
    "dv": "Donsker-Varadhan (MINE) bound on held-out data; unbounded but high variance, "
          "plug-in log-mean-exp biases it upward on small splits",
    "smile": "SMILE (DV with the partition term clipped to [e^-tau, e^tau]); lower variance than DV, "
             "biased downward for large MI",
}


def gaussian_mi_bits(rho: float, dim: int) -> float:
    """Closed-form MI (bits) of x, y in R^dim with unit variances and corr(x_i, y_i) = rho, independent across i."""
    if not -1.0 < rho < 1.0:
        raise MiTasksError(f"rho must lie strictly between -1 and 1, got {rho}")
    if dim < 1:
        raise MiTasksError(f"dim must be >= 1, got {dim}")
    return float(-0.5 * dim * math.log2(1.0 - rho * rho))


def rho_for_bits(bits: float, dim: int) -> float:
    """The per-dimension correlation that gives ``bits`` of MI in ``dim`` dimensions (inverse of the above)."""
    if bits < 0 or dim < 1:
        raise MiTasksError(f"need bits >= 0 and dim >= 1, got bits={bits}, dim={dim}")
    return float(math.sqrt(1.0 - 2.0 ** (-2.0 * bits / dim)))


def sample_correlated_gaussians(n: int, dim: int, rho: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` pairs (x, y) with x ~ N(0, I), y = rho·x + sqrt(1 − rho²)·noise, float32 (N, dim) each."""
    gaussian_mi_bits(rho, dim)  # validates rho and dim
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim))
    y = rho * x + math.sqrt(1.0 - rho * rho) * rng.standard_normal((n, dim))
    return x.astype(np.float32), y.astype(np.float32)


@contextmanager
def _threads(n: int | None) -> Iterator[None]:
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _as_matrix(a: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(a.detach().cpu().float().numpy() if isinstance(a, torch.Tensor) else a, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise MiTasksError(f"{name} must be a numeric array of shape (N, D): {e}") from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise MiTasksError(f"{name} must be (N, D) (one row per sample), got shape {arr.shape}")
    if arr.shape[1] == 0:
        raise MiTasksError(f"{name} has no feature columns")
    if not np.isfinite(arr).all():
        raise MiTasksError(f"{name} contains NaN or inf; drop or recompute those rows (e.g. in float32)")
    return arr


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


def estimate_mi(
    x: Any,
    y: Any,
    *,
    method: str = "infonce",
    proj_dim: int | None = 32,
    projection: str = "pca",
    hidden: int = 64,
    embed: int = 32,
    steps: int = 300,
    batch_size: int = 256,
    lr: float = 3e-3,
    weight_decay: float = 0.0,
    eval_fraction: float = 0.3,
    val_fraction: float = 0.2,
    eval_every: int = 20,
    eval_block: int = 2048,
    tau: float = 5.0,
    seed: int = 0,
    num_threads: int | None = 1,
) -> MIEstimate:
    """Estimate I(x; y) in bits from paired rows of ``x`` (N, Dx) and ``y`` (N, Dy).

    Rows are shuffled with ``seed`` and split: ``eval_fraction`` held out, the rest trains the
    critic for ``steps`` Adam steps on minibatches of ``batch_size`` (negatives = the other rows
    of the batch). ``bits`` is the bound on the held-out rows in blocks of up to ``eval_block``
    (InfoNCE's cap is log2 of the block size, reported as ``upper_limit_bits``); ``train_bits``
    is the same bound on as many train rows, so a large gap signals overfitting.
    ``proj_dim`` (None = keep all) reduces each side to that many PCA (``projection="pca"``,
    whitened) or random orthonormal directions after standardizing; both fitted on train rows.
    """
    if method not in METHODS:
        raise MiTasksError(f"unknown MI method {method!r}: use one of {', '.join(METHODS)}")
    if projection not in PROJECTIONS:
        raise MiTasksError(f"unknown projection {projection!r}: use one of {', '.join(PROJECTIONS)}")
    if proj_dim is not None and proj_dim < 1:
        raise MiTasksError(f"proj_dim must be >= 1 or None, got {proj_dim}")
    if not 0.0 <= val_fraction < 1.0:
        raise MiTasksError(f"val_fraction must lie in [0, 1), got {val_fraction}")
    if not 0.0 < eval_fraction < 1.0:
        raise MiTasksError(f"eval_fraction must lie in (0, 1), got {eval_fraction}")
    for name, v in (("steps", steps), ("batch_size", batch_size), ("hidden", hidden), ("embed", embed),
                    ("eval_block", eval_block), ("eval_every", eval_every)):
        if v < 1:
            raise MiTasksError(f"{name} must be >= 1, got {v}")
    if batch_size < 2 or eval_block < 2:
        raise MiTasksError("batch_size and eval_block must be >= 2: contrastive bounds need negatives")
    xa, ya = _as_matrix(x, "x"), _as_matrix(y, "y")
    if xa.shape[0] != ya.shape[0]:
        raise MiTasksError(f"x and y must hold the same samples row by row: got {xa.shape[0]} and {ya.shape[0]} rows")
    n = xa.shape[0]
    n_eval = int(round(n * eval_fraction))
    n_train = n - n_eval
    if n < MIN_SAMPLES or n_eval < 2 or n_train < 2:
        raise MiTasksError(f"too few samples for an MI estimate: got {n} rows, need at least {MIN_SAMPLES} "
                           "(hundreds for a useful estimate)")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    tr, ev = order[:n_train], order[n_train:]
    gen = torch.Generator().manual_seed(int(seed))
    with _threads(num_threads):
        px = _Projector(xa[tr], proj_dim, projection, rng)
        py = _Projector(ya[tr], proj_dim, projection, rng)
        xt, yt, xe, ye = px(xa[tr]), py(ya[tr]), px(xa[ev]), py(ya[ev])
        torch_state = torch.random.get_rng_state()
        torch.manual_seed(int(seed))  # nn.Linear initialisation draws from the global generator
        try:
            critic = _SeparableCritic(px.out_dim, py.out_dim, hidden, embed)
        finally:
            torch.random.set_rng_state(torch_state)
        opt = torch.optim.Adam(critic.parameters(), lr=lr, weight_decay=weight_decay, foreach=True)
        # Early stopping: a validation slice of the train rows picks the checkpoint, so the
        # held-out eval rows are touched once, by the chosen critic only.
        n_val = int(round(n_train * val_fraction)) if val_fraction > 0 else 0
        n_fit = n_train - n_val
        if n_val and (n_val < 2 or n_fit < 2):
            n_val, n_fit = 0, n_train
        xf, yf, xv, yv = xt[:n_fit], yt[:n_fit], xt[n_fit:], yt[n_fit:]
        bs = min(batch_size, n_fit)
        perm = torch.randperm(n_fit, generator=gen)
        pos, best, best_state, best_step = 0, -math.inf, None, steps
        for step in range(1, steps + 1):
            if pos + bs > n_fit:
                perm, pos = torch.randperm(n_fit, generator=gen), 0
            idx = perm[pos:pos + bs]
            pos += bs
            loss = -_bound_nats(critic(xf[idx], yf[idx]), method, tau)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if n_val and (step % eval_every == 0 or step == steps):
                v = _blocked_bits(critic, xv, yv, method, tau, min(eval_block, n_val))
                if v > best:
                    best, best_step = v, step
                    best_state = {k: t.detach().clone() for k, t in critic.state_dict().items()}
        if best_state is not None:
            critic.load_state_dict(best_state)
        block = min(eval_block, n_eval)
        bits = _blocked_bits(critic, xe, ye, method, tau, block)
        m = min(n_fit, n_eval)
        train_bits = _blocked_bits(critic, xf[:m], yf[:m], method, tau, min(eval_block, m))
    if not math.isfinite(bits):
        raise MiTasksError(f"the {method} estimate diverged (non-finite); use method='infonce' or lower lr")
    cap = math.log2(block) if method == "infonce" else None
    settings = dict(proj_dim=proj_dim, projection=projection, hidden=hidden, embed=embed, steps=steps,
                    batch_size=batch_size, lr=lr, weight_decay=weight_decay, eval_fraction=eval_fraction,
                    val_fraction=val_fraction, best_step=best_step, eval_block=eval_block, tau=tau if method == "smile" else None, seed=seed,
                    dim_x=xa.shape[1], dim_y=ya.shape[1], critic="separable")
    return MIEstimate(bits=bits, train_bits=train_bits, method=method, n_train=n_train, n_eval=n_eval,
                      upper_limit_bits=cap, bias=BIAS_NOTES[method], settings=settings)
