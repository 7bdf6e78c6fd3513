"""What every MI estimator returns, and the known bias of each kind of estimate.

Shared by the closed-form Gaussian estimate (:mod:`.closed_form`) and the trained critics
(:mod:`.critics`), so that a result says which bound it is and how it errs whichever computed it.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

LN2 = math.log(2.0)
MIN_SAMPLES = 20
"""Fewest paired rows any estimator accepts (hundreds are needed for a useful estimate)."""


@dataclass
class MIEstimate:
    """A held-out MI estimate in bits with the settings and the bound's known bias."""

    bits: float
    train_bits: float
    method: str
    n_train: int
    n_eval: int
    upper_limit_bits: float | None
    bias: str
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


BIAS_NOTES = {
    "infonce": "InfoNCE lower bound; cannot exceed log2(K) with K negatives per eval block, "
               "underestimates as the true MI nears that cap",
    "dv": "Donsker-Varadhan (MINE) bound on held-out data; unbounded but high variance, "
          "plug-in log-mean-exp biases it upward on small splits",
    "smile": "SMILE (DV with the partition term clipped to [e^-tau, e^tau]); lower variance than DV, "
             "biased downward for large MI",
    "gaussian": "linear-Gaussian MI of the ridged covariance (a second-moment quantity, not a bound on the true "
                "MI); plug-in bias ~ k_x*k_y/(2n ln2) bits removed by the Gaussian (Wishart) correction when on",
    "mine_paper": "the IE paper's protocol (DV on the full batch, maximum over training): BIASED UPWARD, no held-out "
                  "data; for comparison with the paper's numbers only",
}

