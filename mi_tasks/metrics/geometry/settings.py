"""Settings of the layer-geometry metrics (``mi_geometry``) and of the augmentation-based ones (``mi_views``)."""
from __future__ import annotations

from dataclasses import dataclass

from ...config import Settings, setting

VIEW_POOLINGS = ("unit_token_mean", "task")


@dataclass(frozen=True)
class GeometrySettings(Settings):
    """``gride_n1``: GRIDE's first neighbour order (its second is twice it); ``absolute_cosine``: curvature's angle.

    ``absolute_cosine=True`` is the study's code (arccos|cos|, angles in [0, π/2]); ``False`` the
    paper's formula arccos(cos) (angles in [0, π], a step that turns back counts as π).
    """

    gride_n1: int = setting(4, int, "GRIDE's neighbour order n1 (n2 = 2·n1)", low=1)
    absolute_cosine: bool = setting(True, bool, "curvature's angle: arccos|cos| (the study's code); false: arccos(cos) "
                                                "(the paper's formula)")


@dataclass(frozen=True)
class ViewSettings(Settings):
    """``n_views``, ``augment_word_p``, ``infonce_*``, ``dime_shuffles``, ``view_pooling`` (each view is one more pass).

    ``view_pooling``: what a view's vector is. ``unit_token_mean`` (default) is the study's input:
    the view's token rows centred over the text and scaled to unit length, then averaged; ``task``
    is the task's own pooled state (the ``pooling`` setting), which ranks layers differently
    (DiME's curve across MiniLM's layers: Spearman ρ = +0.07 between the two).
    """

    n_views: int = setting(8, int, "augmented views per text (LiDAR uses all, DiME and InfoNCE the first two)", low=2)
    augment_word_p: float = setting(0.15, float, "chance that a word of 4+ letters gets one typo or split", low=0,
                                    below=1.0000001)
    infonce_temperature: float = setting(0.1, float, "InfoNCE's temperature", low=0, open_low=True)
    infonce_cosine: bool = setting(True, bool, "InfoNCE scores cosine similarities; false: the study's raw dot "
                                               "products (≈ ln n on unit-token-mean views: no signal)")
    dime_shuffles: int = setting(10, int, "DiME's shuffles of the second view", low=1)
    view_pooling: str = setting("unit_token_mean", str, "a view's vector: unit_token_mean (token rows centred, "
                                "unit length, averaged: the study's) | task (the task's pooled state)",
                                choices=VIEW_POOLINGS)
