"""Mutual-information estimators for paired continuous samples, validated on Gaussians.

``estimate_mi(x, y, method=...)`` returns an :class:`MIEstimate` in bits. Two kinds:

- ``gaussian`` (no training; the default of Information Emergence): the linear-Gaussian MI
  I_G(X;Y) = −½ Σ_i log2(1 − ρ_i²) of the canonical correlations ρ_i of the projected,
  ridge-regularised states: the exact MI of the Gaussian with the same (regularised) covariance,
  i.e. of (X̃ + ε_x, Ỹ + ε_y) with independent isotropic noise ε of variance ``ridge`` times the
  mean projected variance. X̃ = ``proj_dim`` directions of the z-scored X: each side's top
  principal directions (``projection="pca"``, not whitened), or seeded random orthonormal frames,
  the same one on both sides (``"shared_random"``, for x and y in one coordinate system) or one
  per side (``"random"``), with the MI averaged over ``n_projections`` frames. Finite for
  deterministic or rank-deficient states, a function of the covariances only (computed in float64
  from means and covariances, so many rows are cheap), and it converges as rows grow. The plug-in
  value is biased upward by ≈ k_x·k_y/(2n ln2) bits; by default the exact Gaussian (Wishart)
  expectation of that bias is subtracted (``bias_correction``).
- neural bounds with a trained separable critic ``s(x, y) = f(x)·g(y)``: rows are standardized,
  optionally projected to ``proj_dim`` dimensions (PCA or a seeded random map, fitted on the train
  split only), the critic is trained on the train split and the bound is reported on a held-out
  split with the chosen critic: never the maximum over training.

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
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator

import numpy as np
import scipy.linalg
import torch
from scipy.special import digamma
from torch import nn
from torch.nn import functional as F

from ...errors import MiTasksError

METHODS = ("gaussian", "infonce", "dv", "smile", "mine_paper")
NEURAL_METHODS = ("infonce", "dv", "smile", "mine_paper")
PROJECTIONS = ("pca", "random")
GAUSSIAN_PROJECTIONS = ("pca", "random", "shared_random")
LN2 = math.log(2.0)
MIN_SAMPLES = 20
DEFAULT_RIDGE = 1e-3
PAPER_CRITIC_LAYERS = 10
GAUSSIAN_DEFINITION = (
    "linear-Gaussian MI: -1/2 sum_i log2(1 - rho_i^2) over the canonical correlations of k = proj_dim "
    "directions of the z-scored states (projection: pca = each side's top-k principal directions; "
    "shared_random = the same seeded random orthonormal k-frame on both sides, averaged over n_projections "
    "frames), each covariance block ridged by ridge * its mean eigenvalue (= exact MI of the Gaussian with that "
    "covariance, i.e. with isotropic Gaussian noise of that variance added); minus the Gaussian (Wishart) "
    "plug-in bias when bias_correction"
)


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
    "gaussian": "linear-Gaussian MI of the ridged covariance (a second-moment quantity, not a bound on the true "
                "MI); plug-in bias ~ k_x*k_y/(2n ln2) bits removed by the Gaussian (Wishart) correction when on",
    "mine_paper": "the IE paper's protocol (DV on the full batch, maximum over training): BIASED UPWARD, no held-out "
                  "data; for comparison with the paper's numbers only",
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


_BLAS: list[Any] = []  # one cached threadpoolctl controller (scanning the loaded libraries costs ~20 ms)


@contextmanager
def _blas_threads(n: int | None) -> Iterator[None]:
    """Limit numpy's BLAS/LAPACK pool: its spinning threads stall badly on a busy machine."""
    if n is None:
        yield
        return
    if not _BLAS:
        try:
            from threadpoolctl import ThreadpoolController
            _BLAS.append(ThreadpoolController())
        except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
            _BLAS.append(None)
    if _BLAS[0] is None:
        yield
        return
    with _BLAS[0].limit(limits=n, user_api="blas"):
        yield


def wishart_bias_bits(n: float, dx: int, dy: int) -> float:
    """Expected upward bias (bits) of the plug-in Gaussian MI from ``n`` rows of Gaussian data.

    ½[B(dx) + B(dy) − B(dx + dy)] with B(d) = E[log det S] − log det Σ = Σ_{i=1..d} ψ((n − i)/2)
    + d·log(2/(n − 1)) for a sample covariance S on n − 1 degrees of freedom; ≈ dx·dy/(2n ln2).
    Exact for Gaussian rows and no ridge; NaN when n <= dx + dy (undefined).
    """
    if n <= dx + dy:
        return float("nan")

    def b(d: int) -> float:
        return float(np.sum(digamma((n - np.arange(1, d + 1)) / 2.0)) + d * math.log(2.0 / (n - 1)))

    return 0.5 * (b(dx) + b(dy) - b(dx + dy)) / LN2


def _inv_std(cov: np.ndarray) -> np.ndarray:
    """1/std per coordinate; (near-)zero-variance coordinates are left unscaled."""
    std = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    std[std < 1e-8 * max(1.0, float(std.max(initial=0.0)))] = 1.0
    return 1.0 / std


def random_frames(d: int, dim: int, count: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` seeded random orthonormal (d, dim) frames (frame r drawn from seed + r)."""
    with _blas_threads(1):
        return [np.linalg.qr(np.random.default_rng(seed + r).standard_normal((d, dim)))[0] for r in range(count)]


def standardized_projection(cov: Any, dim: int | None, kind: str = "pca", seed: int = 0) -> np.ndarray:
    """(D, k) map from centred rows to ``dim`` directions of the z-scored variable.

    ``kind="pca"``: the top-``dim`` eigenvectors of the correlation matrix (not whitened, so the
    directions keep their variances); ``"random"``: a seeded random orthonormal frame. ``dim``
    None or >= D keeps the z-scoring alone. Coordinates with (near-)zero variance are left unscaled.
    """
    cov = np.asarray(cov, dtype=np.float64)
    inv = _inv_std(cov)
    d = cov.shape[0]
    if dim is None or dim >= d:
        return np.diag(inv)
    if kind == "pca":
        with _blas_threads(1):
            _, vecs = scipy.linalg.eigh(cov * inv[:, None] * inv[None, :], subset_by_index=[d - dim, d - 1])
        w = vecs[:, ::-1]  # eigh returns ascending eigenvalues
    elif kind == "random":
        w = random_frames(d, dim, 1, seed)[0]
    else:
        raise MiTasksError(f"unknown projection {kind!r}: use one of {', '.join(PROJECTIONS)}")
    return np.ascontiguousarray(w * inv[:, None])


def projection_pairs(cxx: np.ndarray, cyy: np.ndarray, dim: int | None, kind: str = "pca", count: int = 16,
                     seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (px, py) maps the Gaussian MI is averaged over (one pair for ``pca``, ``count`` for the random kinds).

    ``pca``: each side's own top-``dim`` principal directions; ``random``: independent random frames
    per side; ``shared_random``: the same random frame for both sides (for x and y in one
    coordinate system, e.g. residual-stream states of adjacent layers; needs Dx == Dy).
    """
    if kind not in GAUSSIAN_PROJECTIONS:
        raise MiTasksError(f"unknown projection {kind!r}: use one of {', '.join(GAUSSIAN_PROJECTIONS)}")
    dx, dy = cxx.shape[0], cyy.shape[0]
    if kind == "pca" or dim is None or dim >= min(dx, dy):
        return [(standardized_projection(cxx, dim, "pca"), standardized_projection(cyy, dim, "pca"))]
    if count < 1:
        raise MiTasksError(f"n_projections must be >= 1, got {count}")
    ix, iy = _inv_std(cxx)[:, None], _inv_std(cyy)[:, None]
    if kind == "shared_random":
        if dx != dy:
            raise MiTasksError(f"projection='shared_random' needs x and y of one dimension, got {dx} and {dy}")
        return [(w * ix, w * iy) for w in random_frames(dx, dim, count, seed)]
    return [(w * ix, v * iy) for w, v in zip(random_frames(dx, dim, count, seed),
                                              random_frames(dy, dim, count, seed + count))]


def canonical_correlations(sxx: np.ndarray, syy: np.ndarray, sxy: np.ndarray, ridge: float) -> np.ndarray:
    """Canonical correlations of the blocks after adding ``ridge`` × (mean eigenvalue) to each diagonal block."""
    def chol(s: np.ndarray) -> np.ndarray:
        k = s.shape[0]
        scale = float(np.trace(s)) / k
        reg = s + ridge * (scale if scale > 0 else 1.0) * np.eye(k)
        try:
            return np.linalg.cholesky(reg)
        except np.linalg.LinAlgError:
            raise MiTasksError("a covariance block is singular (deterministic or rank-deficient states): "
                               "use ridge > 0") from None

    with _blas_threads(1):
        lx, ly = chol(sxx), chol(syy)
        t = np.linalg.solve(ly, np.linalg.solve(lx, sxy).T).T  # Lx^-1 Sxy Ly^-T
        rho = np.linalg.svd(t, compute_uv=False)
    return np.clip(rho, 0.0, 1.0 - 1e-15)


def gaussian_mi_from_cov(cxx: Any, cyy: Any, cxy: Any, n: float, *, proj_dim: int | None = 16,
                         projection: str = "pca", n_projections: int = 16, ridge: float = DEFAULT_RIDGE,
                         bias_correction: bool = True, frames: list[tuple[np.ndarray, np.ndarray]] | None = None,
                         seed: int = 0) -> MIEstimate:
    """Linear-Gaussian MI (bits) from the covariances of x (Dx×Dx), y (Dy×Dy) and x–y (Dx×Dy) over ``n`` rows.

    For each projection pair of :func:`projection_pairs` (or the given ``frames``): ridge each
    block by ``ridge`` × its mean eigenvalue, take −½ Σ log2(1 − ρ_i²) of the canonical
    correlations and subtract :func:`wishart_bias_bits` when ``bias_correction`` (skipped, and
    recorded so, when n <= k_x + k_y); ``bits`` is the mean over the pairs, ``train_bits`` the
    mean plug-in value.
    """
    if not ridge >= 0:
        raise MiTasksError(f"ridge must be >= 0, got {ridge}")
    if proj_dim is not None and proj_dim < 1:
        raise MiTasksError(f"proj_dim must be >= 1 or None, got {proj_dim}")
    cxx, cyy, cxy = (np.asarray(a, dtype=np.float64) for a in (cxx, cyy, cxy))
    if cxy.shape != (cxx.shape[0], cyy.shape[0]):
        raise MiTasksError(f"cross-covariance shape {cxy.shape} does not match {cxx.shape} and {cyy.shape}")
    frames = projection_pairs(cxx, cyy, proj_dim, projection, n_projections, seed) if frames is None else frames
    plugins, rho_max = [], 0.0
    for px, py in frames:
        with _blas_threads(1):
            sxx, syy, sxy = px.T @ cxx @ px, py.T @ cyy @ py, px.T @ cxy @ py
        rho = canonical_correlations(sxx, syy, sxy, ridge)
        plugins.append(float(-0.5 * np.sum(np.log1p(-rho * rho)) / LN2))
        rho_max = max(rho_max, float(rho.max(initial=0.0)))
    plugin = float(np.mean(plugins))
    kx, ky = frames[0][0].shape[1], frames[0][1].shape[1]
    bias = wishart_bias_bits(n, kx, ky) if bias_correction else float("nan")
    corrected = bool(bias_correction and math.isfinite(bias))
    bits = plugin - bias if corrected else plugin
    if not math.isfinite(bits):
        raise MiTasksError("the Gaussian MI is not finite; use ridge > 0")
    settings = dict(proj_dim=proj_dim, projection=projection, n_projections=len(frames), ridge=ridge,
                    bias_correction=corrected, bias_bits=bias if corrected else 0.0, k_x=kx, k_y=ky,
                    dim_x=cxx.shape[0], dim_y=cyy.shape[0], n=float(n), rho_max=rho_max,
                    definition=GAUSSIAN_DEFINITION)
    return MIEstimate(bits=bits, train_bits=plugin, method="gaussian", n_train=int(round(n)), n_eval=0,
                      upper_limit_bits=None, bias=BIAS_NOTES["gaussian"], settings=settings)


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
    ridge: float = DEFAULT_RIDGE,
    bias_correction: bool = True,
    n_projections: int = 16,
    seed: int = 0,
    num_threads: int | None = 1,
) -> MIEstimate:
    """Estimate I(x; y) in bits from paired rows of ``x`` (N, Dx) and ``y`` (N, Dy).

    ``method="gaussian"``: the linear-Gaussian MI of all rows (no split, no training) from their
    float64 covariances, see :func:`gaussian_mi_from_cov` (``proj_dim``, ``projection`` — also
    ``shared_random`` —, ``n_projections``, ``ridge``, ``bias_correction``; the critic settings
    are ignored).
    ``method="mine_paper"``: the IE paper's biased protocol (all rows, full batch, maximum over
    ``steps``; ``bits`` = that maximum, ``train_bits`` = the last value, ``n_eval`` = 0).

    Neural bounds (``infonce``, ``dv``, ``smile``): rows are shuffled with ``seed`` and split:
    ``eval_fraction`` held out, the rest trains the critic for ``steps`` Adam steps on minibatches
    of ``batch_size`` (negatives = the other rows of the batch). ``bits`` is the bound on the
    held-out rows in blocks of up to ``eval_block`` (InfoNCE's cap is log2 of the block size,
    reported as ``upper_limit_bits``); ``train_bits`` is the same bound on as many train rows, so a
    large gap signals overfitting. ``proj_dim`` (None = keep all) reduces each side to that many
    PCA (``projection="pca"``, whitened) or random orthonormal directions after standardizing;
    both fitted on train rows.
    """
    _check_settings(method, projection, proj_dim, val_fraction, eval_fraction, steps=steps, batch_size=batch_size,
                    hidden=hidden, embed=embed, eval_block=eval_block, eval_every=eval_every)
    xa, ya = _as_matrix(x, "x"), _as_matrix(y, "y")
    if xa.shape[0] != ya.shape[0]:
        raise MiTasksError(f"x and y must hold the same samples row by row: got {xa.shape[0]} and {ya.shape[0]} rows")
    n = xa.shape[0]
    if method in ("gaussian", "mine_paper") and n < MIN_SAMPLES:
        raise MiTasksError(f"too few samples for an MI estimate: got {n} rows, need at least {MIN_SAMPLES}")
    if method == "gaussian":
        with _threads(num_threads):
            xt, yt = torch.from_numpy(xa), torch.from_numpy(ya)
            xt, yt = xt - xt.mean(0), yt - yt.mean(0)
            cxx, cyy, cxy = ((a.T @ b / n).numpy() for a, b in ((xt, xt), (yt, yt), (xt, yt)))
        return gaussian_mi_from_cov(cxx, cyy, cxy, n, proj_dim=proj_dim, projection=projection,
                                    n_projections=n_projections, ridge=ridge, bias_correction=bias_correction,
                                    seed=seed)
    if method == "mine_paper":
        return _mine_paper_estimate(xa, ya, proj_dim, projection, hidden, steps, lr, seed, num_threads)
    critic = _CriticRun(method=method, hidden=hidden, embed=embed, steps=steps, batch_size=batch_size, lr=lr,
                        weight_decay=weight_decay, val_fraction=val_fraction, eval_every=eval_every,
                        eval_block=eval_block, tau=tau, seed=seed)
    return _neural_estimate(xa, ya, critic, proj_dim, projection, eval_fraction, num_threads)


def _check_settings(method: str, projection: str, proj_dim: int | None, val_fraction: float, eval_fraction: float,
                    **positive: int) -> None:
    """Every estimator setting checked before any work, each error naming the setting and its range."""
    if method not in METHODS:
        raise MiTasksError(f"unknown MI method {method!r}: use one of {', '.join(METHODS)}")
    allowed = GAUSSIAN_PROJECTIONS if method == "gaussian" else PROJECTIONS
    if projection not in allowed:
        raise MiTasksError(f"unknown projection {projection!r} for method {method!r}: use one of {', '.join(allowed)}")
    if proj_dim is not None and proj_dim < 1:
        raise MiTasksError(f"proj_dim must be >= 1 or None, got {proj_dim}")
    if not 0.0 <= val_fraction < 1.0:
        raise MiTasksError(f"val_fraction must lie in [0, 1), got {val_fraction}")
    if not 0.0 < eval_fraction < 1.0:
        raise MiTasksError(f"eval_fraction must lie in (0, 1), got {eval_fraction}")
    for name, v in positive.items():
        if v < 1:
            raise MiTasksError(f"{name} must be >= 1, got {v}")
    if positive["batch_size"] < 2 or positive["eval_block"] < 2:
        raise MiTasksError("batch_size and eval_block must be >= 2: contrastive bounds need negatives")


def _mine_paper_estimate(xa: np.ndarray, ya: np.ndarray, proj_dim: int | None, projection: str, hidden: int,
                         steps: int, lr: float, seed: int, num_threads: int | None) -> "MIEstimate":
    """The IE paper's protocol: all rows, full batch, the maximum over training (biased upward)."""
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(int(seed))
    with _threads(num_threads):
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
class _CriticRun:
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


def _neural_estimate(xa: np.ndarray, ya: np.ndarray, run: _CriticRun, proj_dim: int | None, projection: str,
                     eval_fraction: float, num_threads: int | None) -> "MIEstimate":
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
    with _threads(num_threads):
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


def _train_critic(run: _CriticRun, xt: torch.Tensor, yt: torch.Tensor, dim_x: int, dim_y: int,
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
