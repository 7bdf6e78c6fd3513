"""Layer geometry metrics of "Layer by Layer" (Skean et al. 2025) as pure functions over numpy arrays.

Nothing here knows about models, passes or lm-eval: callers hand in one layer's states (token
states of a text, pooled vectors of many texts, or V augmented views of each text) and get an
a ``Measurement`` back (value, standard error or the reason there is none, rows used). docs/geometry.md
gives each definition, the authors' version and where the two differ.
"""
from .cka import cka_matrix, linear_cka, matched_depth_cka
from .curvature import curvature, text_curvature
from .intrinsic_dim import gride, twonn
from .views import dime, infonce, infonce_mi_bound, lidar

__all__ = ["cka_matrix", "curvature", "dime", "gride", "infonce", "infonce_mi_bound", "lidar",
           "linear_cka", "matched_depth_cka", "text_curvature", "twonn"]
