"""Linear token decoders E -> logits over the decoder vocabulary, with plain arrays in and out.

``RidgeTokenDecoder`` (default) solves ridge regression of the multi-hot target on standardized
states in closed form from sufficient statistics (sum E, sum E^T E, sum E^T y) accumulated batch
by batch, so memory is fixed by |states| x |vocab|, not by the corpus. Its penalty is chosen by
recall on a held-out slice, among a grid and the frequency prior itself (the limit of an unbounded
penalty), so a decoder is never worse than the prior on that slice because the grid stopped short.
``BCETokenDecoder`` is the paper's decoder: a linear layer trained
with binary cross-entropy and Adam; it keeps the train states in memory, as the paper does.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from ...errors import MiTasksError
from .vocabulary import DecoderVocabulary

DEFAULT_ALPHAS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)
PRIOR_ALPHA = float("inf")
"""``alpha_`` of a decoder that fell back to the prior: the penalty without bound, coefficients 0."""


def _as_tensor(x: np.ndarray | torch.Tensor, dtype: torch.dtype, device: torch.device | None = None) -> torch.Tensor:
    """``x`` as a tensor of ``dtype``, on ``device`` (default: where a tensor already is, else the CPU)."""
    if isinstance(x, torch.Tensor):
        return x.to(device=device or x.device, dtype=dtype)
    return torch.as_tensor(np.asarray(x), dtype=dtype, device=device)


@contextlib.contextmanager
def _one_cpu_thread(device: torch.device) -> Iterator[None]:
    """One thread for a CPU eigendecomposition: on a busy 2-core machine MKL's threaded ``eigh`` waits on itself
    (measured: D = 384, 3.8 s on 2 threads against 0.012 s on one; D = 2,048, 28 s against 1.1 s)."""
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def recall_hits(scores: torch.Tensor, gold: Sequence[np.ndarray], vocab: DecoderVocabulary,
                multi_hot: torch.Tensor | None = None) -> tuple[np.ndarray, torch.Tensor]:
    """Per text: fraction of its k gold tokens among its top-k scores; also the top-k_max columns.

    Ties are broken by column order (torch.topk on CPU is deterministic). Gold tokens outside the
    decoder vocabulary can never be recovered and count as misses. ``multi_hot`` may pass the
    gold's (n, |vocab|) multi-hot when the caller already has it (scoring many layers). The work
    stays on the scores' device; only the per-text fractions come back to the host.
    """
    n, v = scores.shape
    dev = scores.device
    ks = np.array([len(g) for g in gold])
    kmax = int(min(max(ks.max(initial=1), 1), v))
    top = torch.topk(scores, kmax, dim=1).indices
    y = (vocab.multi_hot(gold, device=dev) if multi_hot is None else multi_hot.to(dev)).bool()
    hit = torch.gather(y, 1, top)
    within = torch.arange(kmax, device=dev)[None, :] < torch.as_tensor(np.minimum(ks, kmax), device=dev)[:, None]
    hits = (hit & within).sum(1).cpu().numpy()
    return hits / np.maximum(ks, 1), top


class RidgeTokenDecoder:
    """Closed-form ridge decoder for one layer, fitted from streamed sufficient statistics.

    The statistics, the solve and the scores live on the device of the first batch's states (the
    model's accelerator when the caller keeps them there); later batches are moved to it.
    """

    def __init__(self, vocab: DecoderVocabulary, alphas: Sequence[float] = DEFAULT_ALPHAS) -> None:
        self.vocab = vocab
        self.alphas = tuple(float(a) for a in alphas)
        self.alpha_: float | None = None
        self.n = 0
        self._shift: torch.Tensor | None = None

    def partial_fit(self, X: np.ndarray | torch.Tensor, targets: Sequence[np.ndarray]) -> "RidgeTokenDecoder":
        """Add a batch: states (n, D) and each row's target token ids."""
        X = _as_tensor(X, torch.float64, None if self._shift is None else self._shift.device)
        if X.ndim != 2 or X.shape[0] != len(targets):
            raise MiTasksError(f"states must be (n, D) with one target per row; got {tuple(X.shape)} and {len(targets)} targets")
        self._check_open()
        dev = X.device
        if self._shift is None:
            d = X.shape[1]
            self._shift = X.mean(0)  # shifting by a reference keeps float sums free of cancellation
            self._sx = torch.zeros(d, dtype=torch.float64, device=dev)
            self._sxx = torch.zeros(d, d, dtype=torch.float64, device=dev)
            self._sxy = torch.zeros(len(self.vocab), d, dtype=torch.float32, device=dev)
            self._sy = torch.zeros(len(self.vocab), dtype=torch.float64, device=dev)
        xs = X - self._shift
        self.n += X.shape[0]
        self._sx += xs.sum(0)
        self._sxx += xs.T @ xs
        rows, cols, _ = self.vocab.sparse_rows(targets)
        cols_t = torch.from_numpy(cols).to(dev)
        # sum_i x_i y_i^T, only for the vocabulary rows this batch touches: a small dense (touched x n)
        # multi-hot times the batch, added in place (each touched row once, so deterministic on GPUs
        # too). Work and memory follow the batch's distinct tokens, not |vocab| x D.
        touched, local = np.unique(cols, return_inverse=True)
        yt = torch.zeros(touched.size, X.shape[0], dtype=torch.float32, device=dev)
        yt[torch.from_numpy(local.reshape(-1)).to(dev), torch.from_numpy(rows).to(dev)] = 1.0
        self._sxy.index_add_(0, torch.from_numpy(touched).to(dev), yt @ xs.to(torch.float32))
        self._sy.index_add_(0, cols_t, torch.ones(cols.size, dtype=torch.float64, device=dev))
        self._solved = False
        return self

    def _check_open(self) -> None:
        if getattr(self, "coef_", None) is not None and self._sxy is None:
            raise MiTasksError("this decoder is solved and has released its statistics; start a new one to add data")

    def merge(self, other: "RidgeTokenDecoder") -> "RidgeTokenDecoder":
        """Add another decoder's statistics (e.g. from another process); both must share vocab and shift."""
        self._check_open()
        other._check_open()
        if other.n == 0:
            return self
        if self.n == 0:
            self.__dict__.update({k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in other.__dict__.items()})
            return self
        if other._shift.device != self._shift.device:  # e.g. statistics gathered from another process
            other = RidgeTokenDecoder.__new__(RidgeTokenDecoder)._moved_from(other, self._shift.device)
        if not torch.equal(self._shift, other._shift):
            delta = other._shift - self._shift  # re-express other's sums around our shift
            sx, n = other._sx, other.n
            sxx = other._sxx + torch.outer(sx, delta) + torch.outer(delta, sx) + n * torch.outer(delta, delta)
            sxy = other._sxy + torch.outer(other._sy, delta).to(torch.float32)
            sx = sx + n * delta
        else:
            sx, sxx, sxy = other._sx, other._sxx, other._sxy
        self.n += other.n
        self._sx += sx
        self._sxx += sxx
        self._sxy += sxy
        self._sy += other._sy
        self._solved = False
        return self

    def _moved_from(self, other: "RidgeTokenDecoder", device: torch.device) -> "RidgeTokenDecoder":
        self.__dict__.update({k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in other.__dict__.items()})
        return self

    def _solve(self) -> None:
        if self.n == 0:
            raise MiTasksError("the decoder has seen no training states; call partial_fit (or fit) with train states first")
        n = self.n
        mu = self._sx / n
        cxx = self._sxx - n * torch.outer(mu, mu)
        var = torch.diagonal(cxx).clamp_min(0) / n
        sigma = torch.sqrt(torch.where(var > 1e-12 * var.max().clamp_min(1e-30), var, torch.ones_like(var)))
        czz = cxx / torch.outer(sigma, sigma)
        with _one_cpu_thread(czz.device):
            evals, evecs = torch.linalg.eigh(czz)
        self._evals = evals.clamp_min(0)
        self._evecs = evecs
        czy = (self._sxy - torch.outer(self._sy, mu).to(torch.float32)) / sigma.to(torch.float32)  # (V, D)
        self._proj = czy @ evecs.to(torch.float32)  # (V, D) in the eigenbasis
        self._mean = (self._shift + mu).to(torch.float32)
        self._sigma = sigma.to(torch.float32)
        self._ybar = (self._sy / n).to(torch.float32)
        self._solved = True
        self.coef_ = None

    def _rotated(self, X: np.ndarray | torch.Tensor) -> torch.Tensor:
        Z = (_as_tensor(X, torch.float32, self._mean.device) - self._mean) / self._sigma
        return Z @ self._evecs.to(torch.float32)

    def _scores_rotated(self, Q: torch.Tensor, alpha: float) -> torch.Tensor:
        shrink = (1.0 / (self._evals + alpha * self.n)).to(torch.float32)
        return (Q * shrink) @ self._proj.T + self._ybar

    def select_alpha(self, X_cal: np.ndarray | torch.Tensor | None, targets_cal: Sequence[np.ndarray] | None,
                     prior_scores: torch.Tensor | None = None) -> float:
        """Pick the penalty with the best recall@k on held-out states (the largest on ties) and solve.

        ``prior_scores`` (one score per vocabulary column, the frequency prior's) adds the unbounded
        penalty as a candidate: where no grid penalty beats the prior on the held-out states, the
        decoder becomes the prior (``alpha_`` = inf, coefficients 0, intercept = the prior's scores).
        The decoder then holds only ``coef_`` and ``intercept_``; adding data afterwards is an error.
        """
        self._check_open()
        if not getattr(self, "_solved", False):
            self._solve()
        if X_cal is None or len(targets_cal or []) == 0 or (len(self.alphas) == 1 and prior_scores is None):
            self.alpha_ = self.alphas[len(self.alphas) // 2] if len(self.alphas) > 1 else self.alphas[0]
        else:
            Q = self._rotated(X_cal)
            y_cal = self.vocab.multi_hot(targets_cal, device=Q.device)
            recalls = [float(recall_hits(self._scores_rotated(Q, a), targets_cal, self.vocab, y_cal)[0].mean())
                       for a in self.alphas]
            best = max(recalls)
            self.alpha_ = max(a for a, r in zip(self.alphas, recalls) if r >= best - 1e-12)
            if prior_scores is not None:
                prior = prior_scores.to(Q.device, torch.float32).reshape(1, -1).expand(len(targets_cal), -1)
                if float(recall_hits(prior, targets_cal, self.vocab, y_cal)[0].mean()) >= best - 1e-12:
                    self.alpha_ = PRIOR_ALPHA
        if self.alpha_ == PRIOR_ALPHA:
            self.coef_ = torch.zeros(self._mean.numel(), len(self.vocab), dtype=torch.float32, device=self._mean.device)
            self.intercept_ = prior_scores.to(self._mean.device, torch.float32).reshape(-1).clone()
        else:
            shrink = (1.0 / (self._evals + self.alpha_ * self.n)).to(torch.float32)
            W = (self._evecs.to(torch.float32) * shrink) @ self._proj.T  # (D, V) on standardized states
            self.coef_ = W / self._sigma[:, None]
            self.intercept_ = self._ybar - self._mean @ self.coef_
        # Keep only the solution: the |vocab| x D statistics and eigenbasis would triple memory.
        self._sxy = self._proj = self._evecs = None
        return self.alpha_

    @property
    def is_prior(self) -> bool:
        """Whether the held-out slice chose the prior over every penalty of the grid."""
        return self.alpha_ == PRIOR_ALPHA

    def scores(self, X: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Decision scores (n, |vocab|) float32, on the decoder's device."""
        if getattr(self, "coef_", None) is None:
            self.select_alpha(None, None)
        return _as_tensor(X, torch.float32, self.coef_.device) @ self.coef_ + self.intercept_


class BCETokenDecoder:
    """The paper's decoder: logits = W E + b trained with BCE on multi-hot targets and Adam."""

    def __init__(self, vocab: DecoderVocabulary, epochs: int = 10, lr: float = 1e-3,
                 batch_size: int = 256, weight_decay: float = 0.0, seed: int = 0) -> None:
        self.vocab = vocab
        self.epochs, self.lr, self.batch_size = epochs, lr, batch_size
        self.weight_decay, self.seed = weight_decay, seed
        self.losses_: list[float] = []

    def fit(self, X: np.ndarray | torch.Tensor, targets: Sequence[np.ndarray]) -> "BCETokenDecoder":
        X = _as_tensor(X, torch.float32)
        if X.ndim != 2 or X.shape[0] != len(targets):
            raise MiTasksError(f"states must be (n, D) with one target per row; got {tuple(X.shape)} and {len(targets)} targets")
        gen = torch.Generator().manual_seed(self.seed)
        self._mean = X.mean(0)
        self._sigma = X.std(0).clamp_min(1e-6)
        Z = (X - self._mean) / self._sigma
        with torch.random.fork_rng():
            torch.manual_seed(self.seed)
            lin = torch.nn.Linear(X.shape[1], len(self.vocab))
        lin = lin.to(X.device)  # initialised on the CPU (same seed, same weights anywhere), trained where X is
        opt = torch.optim.Adam(lin.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        n = X.shape[0]
        for _ in range(self.epochs):
            perm = torch.randperm(n, generator=gen)
            total = 0.0
            for s in range(0, n, self.batch_size):
                idx = perm[s:s + self.batch_size]
                y = self.vocab.multi_hot([targets[i] for i in idx.tolist()], device=X.device)
                loss = loss_fn(lin(Z[idx.to(X.device)]), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
            self.losses_.append(total / n)
        self.coef_ = (lin.weight.detach().T / self._sigma[:, None]).contiguous()
        self.intercept_ = lin.bias.detach() - self._mean @ self.coef_
        return self

    def scores(self, X: np.ndarray | torch.Tensor) -> torch.Tensor:
        return _as_tensor(X, torch.float32, self.coef_.device) @ self.coef_ + self.intercept_
