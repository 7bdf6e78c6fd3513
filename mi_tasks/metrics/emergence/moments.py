"""Streamed float64 moments of states, so the Gaussian MI needs no states kept (O(S·D²) memory for any N)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ...errors import MiTasksError


class StateMoments:
    """Weighted first and second moments of S states and the cross moments of ``pairs`` (j, k).

    Rows are added in batches (:meth:`add`, states (S, B, D), numpy or torch) on the device the
    states are on: each batch's products run in float32 there and are accumulated in float64 sums
    taken around a fixed shift (the first batch's mean, against cancellation), so any number of
    rows costs O(S·D²) memory and a batch's work stays next to the model. Only :meth:`cov` and
    :meth:`cross` bring (D, D) matrices to the host.
    """

    def __init__(self, pairs: Sequence[tuple[int, int]]) -> None:
        self.pairs = [(int(j), int(k)) for j, k in pairs]
        self.n = 0.0
        self.shift: torch.Tensor | None = None
        self.s = self.m = self.c = torch.zeros(0, dtype=torch.float64)
        self._m32: torch.Tensor | None = None
        self._c32: torch.Tensor | None = None
        self._rows32 = 0

    def add(self, states: Any, weights: Any = None) -> None:
        """Add rows: ``states`` (S, B, D); ``weights`` (B,) non-negative (None: 1 per row)."""
        if isinstance(states, torch.Tensor):
            h = states.detach().to(torch.float64)
        else:  # a copy: inputs may be read-only memmaps
            h = torch.from_numpy(np.array(states, dtype=np.float64))
        if self.shift is None:
            self.shift = h.mean(1)
            S, D = self.shift.shape
            self.s = torch.zeros(S, D, dtype=torch.float64, device=h.device)
            self.m = torch.zeros(S, D, D, dtype=torch.float64, device=h.device)
            self.c = torch.zeros(len(self.pairs), D, D, dtype=torch.float64, device=h.device)
        y = h.to(self.shift.device) - self.shift[:, None]
        x = y.to(torch.float32)
        w_host = np.ones(h.shape[1]) if weights is None else np.asarray(weights, dtype=np.float64)
        w = torch.as_tensor(w_host).to(y.device)
        xw = x * w.to(torch.float32)[None, :, None]
        self.n += float(w_host.sum())  # counted on the host: no device sync per batch
        self.s += y.mul(w[None, :, None]).sum(1)
        if self._m32 is None:
            self._m32 = torch.zeros(self.m.shape, dtype=torch.float32, device=self.m.device)
            self._c32 = torch.zeros(self.c.shape, dtype=torch.float32, device=self.c.device)
        self._m32.baddbmm_(xw.transpose(1, 2), x)
        for p, (j, k) in enumerate(self.pairs):
            self._c32[p].addmm_(xw[j].T, x[k])
        self._rows32 += h.shape[1]
        if self._rows32 >= self.FLUSH_ROWS:
            self._flush()

    FLUSH_ROWS = 1024  # float32 partial sums of up to this many rows, then added to the float64 totals

    def _flush(self) -> None:
        if self._m32 is not None and self._rows32:
            self.m += self._m32.to(torch.float64)
            self.c += self._c32.to(torch.float64)
            self._m32.zero_()
            self._c32.zero_()
        self._rows32 = 0

    # numpy (single-threaded elementwise) rather than torch, whose thread pool stalls on a busy machine
    def cov(self, j: int) -> np.ndarray:
        """Covariance (D, D) of state j (normalised by the total weight), on the host."""
        self._flush()
        mu = self.s[j].cpu().numpy() / self.n
        return self.m[j].cpu().numpy() / self.n - np.outer(mu, mu)

    def cross(self, p: int) -> np.ndarray:
        """Cross-covariance (D, D) of pair p: rows state j, columns state k, on the host."""
        self._flush()
        j, k = self.pairs[p]
        return (self.c[p].cpu().numpy() / self.n
                - np.outer(self.s[j].cpu().numpy() / self.n, self.s[k].cpu().numpy() / self.n))

    @classmethod
    def merged(cls, parts: Sequence["StateMoments"]) -> "StateMoments":
        """The moments of the union of the rows of ``parts`` (same pairs), e.g. disjoint window samples.

        Each part's sums are moved to the first part's shift (x − b = (x − a) + (a − b)), then added,
        so moments of disjoint samples combine exactly (as if the rows had been added to one set).
        """
        parts = [p for p in parts if p.shift is not None]
        for p in parts:
            p._flush()
        if not parts:
            raise MiTasksError("no moments to merge: every part is empty")
        if any(p.pairs != parts[0].pairs for p in parts):
            raise MiTasksError("moments with different state pairs cannot be merged")
        out = cls(parts[0].pairs)
        out.shift = parts[0].shift.clone()
        out.s, out.m, out.c = torch.zeros_like(parts[0].s), torch.zeros_like(parts[0].m), torch.zeros_like(parts[0].c)
        dev = out.shift.device
        for p in parts:
            p_s, p_m, p_c, p_shift = p.s.to(dev), p.m.to(dev), p.c.to(dev), p.shift.to(dev)
            d = p_shift - out.shift  # (S, D): a part's row y = x − p.shift becomes x − out.shift = y + d
            n = p.n
            out.n += n
            out.s += p_s + n * d
            out.m += p_m + p_s[:, :, None] * d[:, None, :] + d[:, :, None] * p_s[:, None, :] \
                + n * d[:, :, None] * d[:, None, :]
            for q, (j, k) in enumerate(p.pairs):
                out.c[q] += p_c[q] + torch.outer(p_s[j], d[k]) + torch.outer(d[j], p_s[k]) + n * torch.outer(d[j], d[k])
        return out

    @classmethod
    def of_arrays(cls, states: np.ndarray, pairs: Sequence[tuple[int, int]], weights: np.ndarray | None = None,
                  chunk: int = 1024) -> "StateMoments":
        """Moments of an (S, N, D) array (rows with weight 0 are skipped), added ``chunk`` rows at a time."""
        mom = cls(pairs)
        rows = np.arange(states.shape[1]) if weights is None else np.flatnonzero(weights)
        for a in range(0, len(rows), chunk):
            r = rows[a:a + chunk]
            mom.add(states[:, r], None if weights is None else weights[r])
        return mom
