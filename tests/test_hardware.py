import torch

from genflows import hardware


def test_native_bf16_reads_the_cpu_flags(monkeypatch):
    hardware.native_bf16.cache_clear()
    try:
        monkeypatch.setattr(hardware, "_cpuinfo", lambda: {"flags": "fpu sse avx2 fma"})
        assert hardware.native_bf16() is False
        hardware.native_bf16.cache_clear()
        monkeypatch.setattr(hardware, "_cpuinfo", lambda: {"flags": "avx2 avx512f avx512_bf16"})
        assert hardware.native_bf16() is True
        assert hardware.bf16_helps("cpu") and hardware.bf16_helps(torch.device("cuda"))
    finally:
        hardware.native_bf16.cache_clear()


def test_describe_cpu_names_what_a_timing_depends_on():
    d = hardware.describe_cpu()
    assert d["capability"] == torch.backends.cpu.get_cpu_capability()
    assert d["threads"] == torch.get_num_threads() and d["cpu"]
