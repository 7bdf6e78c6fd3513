"""Information emergence's settings (``mi_emergence``): windows, projection and the MI estimator."""
from __future__ import annotations

from dataclasses import dataclass

from ...config import Settings, setting
from .estimators import METHODS
from .gaussian import IE_PROJ_DIM, IE_RIDGE
from .scoring import IE_MI_STEPS, MICRO_MODES
from .windows import IE_N_WINDOWS


@dataclass(frozen=True)
class EmergenceSettings(Settings):
    """``window``, ``n_windows``, ``proj_dim``, ``mi_estimator``, ``mi_ridge``, ``mi_steps``, ``micro_mode``."""

    window: int = setting(8, int, "tokens per IE window", low=2)
    n_windows: int = setting(IE_N_WINDOWS, int, "IE windows", low=1)
    proj_dim: int | None = setting(IE_PROJ_DIM, int, "IE projection width; null for none", low=1, nullable=True)
    mi_estimator: str = setting("gaussian", str, "gaussian (noise-channel MI, converges) | neural bounds",
                                choices=METHODS)
    mi_ridge: float = setting(IE_RIDGE, float, "the Gaussian channel's noise", low=0, open_low=True)
    mi_steps: int = setting(IE_MI_STEPS, int, "critic steps of a neural IE estimator", low=1)
    micro_mode: str = setting("pooled", str, "pooled (one estimate) | per_position (T estimates)",
                              choices=MICRO_MODES)
