"""How recoverability fits and scores its token decoders: the settings of ``mi_recoverability``."""
from __future__ import annotations

from dataclasses import dataclass

from ...config import Settings, setting
from ...states.devices import check_device
from .memory_plan import DEFAULT_BUDGET_GIB
from .words import TARGETS

FITS = ("ridge", "bce")


@dataclass(frozen=True)
class RecoverabilitySettings(Settings):
    """``fit``, ``targets``, ``text_metrics``, ``calibration_fraction``, ``memory_budget_gb``, ``decoder_device``."""

    fit: str = setting("ridge", str, "ridge (closed form) | bce (the paper's BCE + Adam)", choices=FITS)
    targets: str = setting("tokens", str, "tokens (the model's own) | words (the same for every model)",
                           choices=TARGETS)
    text_metrics: bool = setting(True, bool, "BLEU-4 and ROUGE-L of the decoded tokens")
    calibration_fraction: float = setting(0.1, float, "share of the train corpus held out, below 1", low=0, below=1)
    memory_budget_gb: float | None = setting(DEFAULT_BUDGET_GIB, float, "GiB; 0 or null for no bound", low=0,
                                             nullable=True)
    decoder_device: str | None = setting(None, str, "where decoder statistics, solve and scoring run "
                                         "(null: the model's device)", nullable=True)

    def check(self, where: str = "") -> None:
        """The decoder device must exist on this machine (checked before any pass)."""
        if self.decoder_device is not None:
            check_device(self.decoder_device, "decoder_device", where.strip())
