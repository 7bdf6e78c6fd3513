"""Check a device name against the devices this machine has, before any model or tensor goes there.

torch answers ``cuda:7`` on a machine without CUDA with "Torch not compiled with CUDA enabled"
deep inside the first tensor move; this says which setting asked for it and what is available.
"""
from __future__ import annotations

import torch

from ..errors import MiTasksError


def available_devices() -> list[str]:
    """The device names usable here: cpu, then cuda:0.., mps, xpu:0.. where present."""
    out = ["cpu"]
    if torch.cuda.is_available():
        out += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append("mps")
    xpu = getattr(torch, "xpu", None)
    if xpu is not None and xpu.is_available():
        out += [f"xpu:{i}" for i in range(xpu.device_count())]
    return out


def check_device(value: str | torch.device, setting: str, context: str = "") -> torch.device:
    """``value`` as a torch device, or a MiTasksError naming ``setting``, the value and the devices here.

    ``context`` (e.g. "for task mi_recoverability") follows the value. ``meta`` (shapes without data, used in tests) is always accepted.
    """
    have = available_devices()
    what = f"{setting} {str(value)!r}" + (f" {context}" if context else "")
    try:
        dev = torch.device(value)
    except (RuntimeError, TypeError, ValueError):
        raise MiTasksError(f"{what} is not a device name: use one of {', '.join(have)} "
                           "(or leave it unset)") from None
    if dev.type in ("cpu", "meta"):
        return dev
    same = [d for d in have if d.split(":")[0] == dev.type]  # the devices of this kind listed above
    n = len(same)
    if n == 0:
        raise MiTasksError(f"{what}: this machine has no {dev.type} device "
                           f"(available: {', '.join(have)}); use one of those or leave it unset")
    if dev.index is not None and dev.index >= n:
        raise MiTasksError(f"{what}: this machine has {n} {dev.type} device{'s' if n > 1 else ''} "
                           f"({', '.join(same)}); use an index from 0 to {n - 1}")
    return dev
