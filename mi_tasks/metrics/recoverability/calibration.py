"""Turn decoder scores into calibrated probabilities, fitted on a held-out slice of the train corpus.

Two small fits per layer, each containing the frequency prior as a special case, so on the
calibration slice the decoder can only match or beat the prior:

* ``SoftmaxCalibrator``: q(t = j | E) ∝ exp(beta * s_j + gamma * log pi_j), a distribution over
  the decoder vocabulary for one token t drawn from the text (used for the Barber-Agakov bound).
* ``BernoulliCalibrator``: P(y_j = 1 | E) = sigmoid(a * s_j + c * logit(d_j) + b), per-token
  presence probabilities (used for the cosine score).

Both fit and apply on the device of the scores they are given (the decoder's).
"""
from __future__ import annotations

import numpy as np
import torch


def _lbfgs(params: list[torch.Tensor], closure_loss, max_iter: int = 25) -> None:
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = closure_loss()
        loss.backward()
        return loss

    opt.step(closure)


class SoftmaxCalibrator:
    """Two-parameter softmax over the vocabulary; (beta, gamma) = (0, 1) is the prior itself."""

    def __init__(self, log_prior: torch.Tensor) -> None:
        self.log_prior = log_prior.to(torch.float32)
        self.beta, self.gamma = 0.0, 1.0

    def fit(self, scores: torch.Tensor, rows: np.ndarray, cols: np.ndarray, weights: np.ndarray) -> "SoftmaxCalibrator":
        """Minimize the mean (weighted) cross-entropy of the gold (row, col) pairs."""
        if rows.size == 0:
            return self
        dev = scores.device
        b = torch.zeros(1, requires_grad=True, device=dev)
        g = torch.ones(1, requires_grad=True, device=dev)
        r, c = torch.from_numpy(rows).to(dev), torch.from_numpy(cols).to(dev)
        w = torch.from_numpy(weights).to(dev, torch.float32)
        w = w / w.sum()
        scores = scores.to(torch.float32)
        log_prior = self.log_prior.to(dev)

        def loss():
            logq = torch.log_softmax(b * scores + g * log_prior, dim=1)
            return -(w * logq[r, c]).sum()

        _lbfgs([b, g], loss)
        if torch.isfinite(b) and torch.isfinite(g):
            self.beta, self.gamma = b.item(), g.item()
        return self

    def log_proba(self, scores: torch.Tensor) -> torch.Tensor:
        """Natural-log probabilities (n, |vocab|) that sum to 1 over the vocabulary per row."""
        return torch.log_softmax(self.beta * scores.to(torch.float32) + self.gamma * self.log_prior.to(scores.device), dim=1)


class BernoulliCalibrator:
    """Platt scaling with the prior's log-odds as a second feature; (a, c, b) = (0, 1, 0) is the prior."""

    def __init__(self, prior_logit: torch.Tensor) -> None:
        self.prior_logit = prior_logit.to(torch.float32)
        self.a, self.c, self.b = 0.0, 1.0, 0.0

    def fit(self, scores: torch.Tensor, y: torch.Tensor) -> "BernoulliCalibrator":
        if scores.shape[0] == 0:
            return self
        dev = scores.device
        a = torch.zeros(1, requires_grad=True, device=dev)
        c = torch.ones(1, requires_grad=True, device=dev)
        b = torch.zeros(1, requires_grad=True, device=dev)
        s, y = scores.to(torch.float32), y.to(dev, torch.float32)
        prior_logit = self.prior_logit.to(dev)

        def loss():
            return torch.nn.functional.binary_cross_entropy_with_logits(a * s + c * prior_logit + b, y)

        _lbfgs([a, c, b], loss)
        if all(torch.isfinite(t) for t in (a, c, b)):
            self.a, self.c, self.b = a.item(), c.item(), b.item()
        return self

    def proba(self, scores: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.a * scores.to(torch.float32) + self.c * self.prior_logit.to(scores.device) + self.b)
