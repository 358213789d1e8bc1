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


def test_a_cpu_name_without_a_model_number_gets_its_family_and_model(monkeypatch):
    monkeypatch.setattr(hardware, "_cpuinfo", lambda: {"model name": "AMD EPYC", "cpu family": "25", "model": "17"})
    assert hardware.cpu_model() == "AMD EPYC (family 25, model 17)"
    full = "AMD EPYC 7B13 64-Core Processor"
    monkeypatch.setattr(hardware, "_cpuinfo", lambda: {"model name": full, "cpu family": "25", "model": "1"})
    assert hardware.cpu_model() == full
    monkeypatch.setattr(hardware, "_cpuinfo", lambda: {"model name": "Intel(R) Xeon(R) CPU @ 2.20GHz", "cpu family": "6", "model": "85"})
    assert hardware.cpu_model() == "Intel(R) Xeon(R) CPU @ 2.20GHz (family 6, model 85)"
