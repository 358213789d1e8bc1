"""What this machine's processor can do, for choosing a chain's dtype and for naming the CPU next
to every timing (the same code runs 2.5x faster in bfloat16 on one CPU and 20x slower on another).

>>> cpu_capability() in ("DEFAULT", "AVX2", "AVX512", "ZVECTOR", "VSX", "SVE256")
True
>>> isinstance(native_bf16(), bool)
True
"""

from __future__ import annotations

import functools
import platform
from pathlib import Path

import torch

__all__ = ["cpu_model", "cpu_capability", "native_bf16", "bf16_helps", "describe_cpu"]

# Instruction sets with bfloat16 arithmetic in hardware (x86: AVX512-BF16 or AMX; Arm: BF16).
_BF16_FLAGS = {"avx512_bf16", "amx_bf16", "bf16"}


@functools.lru_cache(maxsize=None)
def _cpuinfo() -> dict[str, str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    info: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        info.setdefault(key.strip().lower(), value.strip())
    return info


def cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo``; elsewhere what ``platform`` knows). Some
    VMs report a bare "AMD EPYC" or "Intel(R) Xeon(R) CPU @ 2.20GHz": there the CPU family and model
    numbers are added, since two generations under one such name train at different speeds.

    >>> cpu_model() != ""
    True
    """
    info = _cpuinfo()
    name = info.get("model name") or platform.processor() or platform.machine()
    if not any(c.isdigit() for c in name.split("@")[0]) and info.get("cpu family") and info.get("model"):
        name = f"{name} (family {info['cpu family']}, model {info['model']})"
    return name


def cpu_capability() -> str:
    """The vector instruction set torch's CPU kernels were dispatched for (AVX2, AVX512, ...)."""
    return torch.backends.cpu.get_cpu_capability()


@functools.lru_cache(maxsize=None)
def native_bf16() -> bool:
    """True when the CPU computes in bfloat16 natively. Without it oneDNN converts every bf16
    operand in software: an MNIST generator step under bf16 autocast was 20x slower than in
    float32 on an AVX2-only CPU, 2.5x faster on one with AVX512-BF16."""
    flags = set((_cpuinfo().get("flags") or _cpuinfo().get("features") or "").split())
    if flags:
        return bool(flags & _BF16_FLAGS)
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())  # no /proc/cpuinfo: oneDNN's own check


def bf16_helps(device: torch.device | str) -> bool:
    """Whether bfloat16 autocast speeds up a network on ``device``: CUDA, or a CPU with native bf16."""
    kind = torch.device(device).type
    return kind == "cuda" or (kind == "cpu" and native_bf16())


def describe_cpu() -> dict:
    """CPU model, torch's capability, native bf16 and the thread count: what a timing depends on."""
    return {"cpu": cpu_model(), "capability": cpu_capability(), "native_bf16": native_bf16(), "threads": torch.get_num_threads()}
