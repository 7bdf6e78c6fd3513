"""Information emergence (IE): how much more the macro (window) state tells about the future than its tokens.

One job per module: windows (samples), passes (the model runs), moments (streamed statistics),
gaussian and scoring (the estimates), result (the per-layer result), probe (the entry point).
"""
from .closed_form import GAUSSIAN_DEFINITION, gaussian_mi_from_cov, standardized_projection
from .estimators import METHODS, estimate_mi
from .gaussian import GAUSSIAN_KEYS, IE_PROJ_DIM, IE_PROJECTION, IE_RIDGE
from .moments import StateMoments
from .passes import EmergenceStates, collect_states
from .probe import EmergenceParts, EmergenceProbe
from .result import EmergenceResult
from .scoring import MICRO_MODES, emergence_from_states
from .windows import IE_N_WINDOWS, bos_prefix, make_windows

__all__ = ["GAUSSIAN_DEFINITION", "GAUSSIAN_KEYS", "IE_N_WINDOWS", "IE_PROJECTION", "IE_PROJ_DIM", "IE_RIDGE",
           "METHODS", "MICRO_MODES", "EmergenceParts", "EmergenceProbe", "EmergenceResult", "EmergenceStates",
           "StateMoments", "bos_prefix", "collect_states", "emergence_from_states", "estimate_mi",
           "gaussian_mi_from_cov", "make_windows", "standardized_projection"]
