"""Layer geometry as metric families: ``geometry`` reads the shared pass, ``views`` runs augmented views.

``geometry``: curvature (from the token states, in the pass), TwoNN and GRIDE intrinsic dimension
of the texts' pooled vectors, and linear CKA between every pair of requested layers (the matrix in
the results' meta, each layer's CKA with the last as a curve, with a jackknife error over texts).
``views``: LiDAR over all views, DiME and InfoNCE over the first two; every view is one more pass
over the eval texts. Every standard error covers the sampling of the texts (docs/geometry.md).
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from ...states.layers import normalized_depth
from ...states.source import PassInputs
from ..family import MetricFamily, MinimumInputs, RunShape
from ..result import LayerResult, LayerRow
from .reducers import CURVATURE, UNIT_TOKEN_MEAN
from .settings import GeometrySettings, ViewSettings


def _pooled(stream: Any, reduced: str | None = None, shape: tuple[int, ...] = ()) -> tuple[np.ndarray, np.ndarray | None]:
    """(layers, N, D) pooled states of a pass, with one reducer's (layers, N, *shape) output when named."""
    pooled = np.zeros((len(stream.layers), stream.n_texts, stream.hidden_size), dtype=np.float32)
    per_text = np.full((len(stream.layers), stream.n_texts, *shape), np.nan) if reduced else None
    for b in stream.batches():
        pooled[:, b.indices] = b.states.float().numpy()
        if per_text is not None:
            per_text[:, b.indices] = b.reduced[reduced].double().numpy()
    return pooled, per_text


def _view_vectors(stream: Any, pooling: str) -> torch.Tensor:
    """(layers, N, D) float32 vectors of one view's pass, left on the model's device (the views' LiDAR runs there):
    the study's unit-token mean (the :data:`UNIT_TOKEN_MEAN` reduction), or the task's pooled state."""
    if pooling != "task":
        stream.with_reducers([UNIT_TOKEN_MEAN])
    out = torch.zeros((len(stream.layers), stream.n_texts, stream.hidden_size), dtype=torch.float32,
                      device=stream.device)
    for b in stream.batches(keep_on_device=True):
        vectors = b.states if pooling == "task" else b.reduced[UNIT_TOKEN_MEAN.name]
        out[:, torch.as_tensor(b.indices, device=out.device)] = vectors.to(out.device, torch.float32)
    return out


def _row(layer: int, num_layers: int, **measurements: Any) -> LayerRow:
    return LayerRow(layer, normalized_depth(layer, num_layers), measurements)


class GeometryFamily(MetricFamily):
    """``curvature``, ``twonn``, ``gride``, ``cka_to_last`` per layer (``mi_geometry``).

    ``cka_to_last`` is a curve, not a printed number: at the default headline layer (the last) it is 1 by definition.
    """

    name = "geometry"
    settings = GeometrySettings
    reducers = (CURVATURE,)
    table_metrics: ClassVar[tuple[str, ...]] = ("curvature", "twonn", "gride")
    lower_is_better: ClassVar[tuple[str, ...]] = ("curvature",)
    """A straighter token trajectory (lower curvature) is the study's better layer."""
    extra_metrics: ClassVar[tuple[str, ...]] = ("cka_to_last",)
    best_key = "twonn"
    units: ClassVar[dict[str, str]] = {"curvature": "radians", "twonn": "dimensions", "gride": "dimensions",
                                       "cka_to_last": "similarity (0 to 1)"}
    # TwoNN's ratio needs each point's two nearest neighbours (3 texts); curvature needs 3 tokens a text,
    # and its texts below that are dropped and counted (all dropped: flagged as not measured, with the count)
    minimum: ClassVar[MinimumInputs] = MinimumInputs(texts=3)
    requires: ClassVar[tuple[tuple[str, str, str], ...]] = (("skdim", "scikit-dimension", "geometry"),)

    @classmethod
    def minimum_inputs(cls, settings: Any) -> MinimumInputs:
        """GRIDE needs 2·n1 + 2 distinct points (its neighbours of order 2·n1 and the point itself)."""
        n1 = getattr(settings, "gride_n1", None) or GeometrySettings().gride_n1
        return MinimumInputs(texts=max(cls.minimum.texts, 2 * n1 + 2))

    def compute(self, inputs: PassInputs) -> LayerResult:
        from .cka import cka_matrix, cka_with_error
        from .curvature import curvature_from_values
        from .intrinsic_dim import gride, twonn
        stream = inputs.evaluation
        s: GeometrySettings = inputs.settings  # type: ignore[assignment]
        pooled, curv = _pooled(stream, CURVATURE.name, (2,))
        form = 0 if s.absolute_cosine else 1  # the reducer gives both angles
        cka = cka_matrix(list(pooled))
        rows = []
        for j, layer in enumerate(stream.layers):
            rows.append(_row(layer, stream.num_layers, curvature=curvature_from_values(curv[j, :, form]),
                             twonn=twonn(pooled[j], seed=inputs.seed), gride=gride(pooled[j], n1=s.gride_n1, seed=inputs.seed),
                             cka_to_last=cka_with_error(pooled[j], pooled[-1])))
        meta = {"n_texts": stream.n_texts, "num_layers": stream.num_layers, **stream.describe(),
                "eval_truncated": stream.n_truncated, "cka_layers": list(stream.layers), "cka_matrix": cka.tolist(),
                "point_cloud": "pooled vectors of the eval texts (intrinsic dimension, CKA); token states (curvature)",
                "curvature_angle": "arccos|cos|" if s.absolute_cosine else "arccos(cos)", "definitions": DEFINITIONS}
        return LayerResult(layers=rows, meta=meta)

    def memory_bytes(self, shape: RunShape, settings: Any) -> dict[str, int]:
        from .memory import geometry_bytes
        return geometry_bytes(shape)


class ViewsFamily(MetricFamily):
    """``lidar``, ``dime``, ``infonce`` per layer on augmented views (``mi_views``).

    A view's vector is the study's by default (its token rows centred over the text, scaled to unit
    length, averaged; computed in the view's pass by a token reducer); ``view_pooling: task`` takes
    the task's pooled state instead.
    """

    name = "views"
    settings = ViewSettings
    table_metrics: ClassVar[tuple[str, ...]] = ("lidar", "dime", "infonce")
    lower_is_better: ClassVar[tuple[str, ...]] = ("infonce",)
    best_key = "lidar"
    units: ClassVar[dict[str, str]] = {"lidar": "fraction of ln min(n, D)", "dime": "fraction of ln min(n, D)",
                                       "infonce": "nats"}
    # below 3 texts LiDAR's between-text scatter has rank 1 (LiDAR is 0 by construction) and InfoNCE/DiME
    # contrast a text with one other; identical views make every metric compare a text with itself
    minimum: ClassVar[MinimumInputs] = MinimumInputs(texts=3, distinct_views=True)

    def compute(self, inputs: PassInputs) -> LayerResult:
        from ...data.augment import augment_texts
        from .views import dime, infonce, lidar

        s: ViewSettings = inputs.settings  # type: ignore[assignment]
        texts = inputs.evaluation.texts
        drawn = augment_texts(texts, s.n_views, seed=inputs.seed, word_p=s.augment_word_p)
        # the views stay where the model put them; LiDAR's solve runs there, and the two views DiME
        # and InfoNCE read (n × n products) leave the device once, for every layer at the same time
        views = torch.stack([_view_vectors(inputs.stream([d[v] for d in drawn], f"view {v + 1} of {s.n_views}"),
                                           s.view_pooling) for v in range(s.n_views)], dim=2)  # (layers, N, V, D)
        pair = views[:, :, :2].cpu().numpy()
        layers, num_layers = inputs.layers, inputs.num_layers
        rows = [_row(layer, num_layers, lidar=lidar(views[j]),
                     dime=dime(pair[j, :, 0], pair[j, :, 1], seed=inputs.seed, n_shuffles=s.dime_shuffles),
                     infonce=infonce(pair[j, :, 0], pair[j, :, 1], temperature=s.infonce_temperature,
                                     cosine=s.infonce_cosine))
                for j, layer in enumerate(layers)]
        meta = {"n_texts": len(texts), "num_layers": num_layers, "n_views": s.n_views, "augment_seed": inputs.seed,
                "augmenter": "mi_tasks.data.augment (seeded typos, keyboard neighbours, word splits)",
                "view_pooling": s.view_pooling,
                "definitions": DEFINITIONS}
        return LayerResult(layers=rows, meta=meta)

    def memory_bytes(self, shape: RunShape, settings: Any) -> dict[str, int]:
        from .memory import views_bytes
        return views_bytes(shape, int(getattr(settings, "n_views", ViewSettings().n_views)))


DEFINITIONS = {
    "curvature": "mean over texts of the mean angle (radians) between successive token-difference vectors, "
                 "arccos|cos| (absolute_cosine: true, the study's code) or arccos(cos) (false, the paper's formula), "
                 "rows centred and unit-scaled (Skean et al.'s code)",
    "twonn": "TwoNN intrinsic dimension of the pooled vectors, 10% largest ratios discarded (scikit-dimension)",
    "gride": "GRIDE intrinsic dimension of the pooled vectors at neighbour orders n1, 2·n1 (scikit-dimension)",
    "cka_to_last": "linear CKA between this layer's and the last requested layer's pooled vectors",
    "lidar": "entropy of Sw^-1/2 Sb Sw^-1/2 over the views (Sw + 1e-4 I), / ln min(n, D); a view's vector is "
             "set by view_pooling (default: its token rows centred, unit length, averaged, as the study)",
    "dime": "mean over shuffles of H(Ka∘P Kb Pᵀ) − H(Ka∘Kb), Grams of two views over texts, / ln min(n, D)",
    "infonce": "InfoNCE loss of two matched views at temperature infonce_temperature (lower: views more alike)",
}
GeometryFamily.definitions = {m: DEFINITIONS[m] for m in GeometryFamily.metrics()}
ViewsFamily.definitions = {m: DEFINITIONS[m] for m in ViewsFamily.metrics()}
