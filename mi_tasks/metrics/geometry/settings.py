"""Settings of the layer-geometry metrics (``mi_geometry``) and of the augmentation-based ones (``mi_views``)."""
from __future__ import annotations

from dataclasses import dataclass

from ...config import Settings, setting


@dataclass(frozen=True)
class GeometrySettings(Settings):
    """``gride_n1``: GRIDE's first neighbour order (its second is twice it)."""

    gride_n1: int = setting(4, int, "GRIDE's neighbour order n1 (n2 = 2·n1)", low=1)


@dataclass(frozen=True)
class ViewSettings(Settings):
    """``n_views``, ``augment_word_p``, ``infonce_temperature``, ``dime_shuffles`` (each view is one more pass)."""

    n_views: int = setting(8, int, "augmented views per text (LiDAR uses all, DiME and InfoNCE the first two)", low=2)
    augment_word_p: float = setting(0.15, float, "chance that a word of 4+ letters gets one typo or split", low=0,
                                    below=1.0000001)
    infonce_temperature: float = setting(0.1, float, "InfoNCE's temperature", low=0, open_low=True)
    dime_shuffles: int = setting(10, int, "DiME's shuffles of the second view", low=1)
