"""Information emergence (IE): how much more the macro (window) state tells about the future than its tokens."""
from .probe import *  # noqa: F401,F403
from .probe import IE_N_WINDOWS, IE_PROJ_DIM, EmergenceProbe, EmergenceResult, bos_prefix, make_windows  # noqa: F401
