import pytest
import torch
from torch import nn

from genflows.generators import ConvGenerator, PatchConvTranspose2d


@pytest.mark.parametrize("cin,cout,size", [(16, 8, 7), (8, 1, 14), (4, 3, 1)])
def test_patch_conv_transpose_equals_conv_transpose(cin, cout, size):
    # float64: the same sums in another order (the weight gradient sums 5 x 14 x 14 products) differ
    # by ~1e-4 in float32 depending on the CPU's kernels; in float64 only a wrong formula would.
    torch.manual_seed(0)
    fast = PatchConvTranspose2d(cin, cout, 2, 2).double()
    ref = nn.ConvTranspose2d(cin, cout, 2, 2).double()
    ref.load_state_dict(fast.state_dict())
    x = torch.randn(5, cin, size, size, dtype=torch.float64, requires_grad=True)
    a, b = fast(x), ref(x)
    assert torch.allclose(a, b, rtol=1e-10, atol=1e-10)
    gy = torch.randn_like(a)
    for ga, gb in zip(torch.autograd.grad(a, [x, fast.weight, fast.bias], gy), torch.autograd.grad(b, [x, ref.weight, ref.bias], gy)):
        assert torch.allclose(ga, gb, rtol=1e-10, atol=1e-10)


def test_patch_conv_transpose_refuses_overlapping_kernels():
    with pytest.raises(ValueError, match="kernel_size == stride"):
        PatchConvTranspose2d(4, 4, 4, 2)


def test_conv_generator_loads_state_dicts_of_plain_transposed_convolutions():
    # Checkpoints written before the patch convolution hold the same parameter names and shapes.
    torch.manual_seed(0)
    g = ConvGenerator(6, (1, 8, 8), hidden=16, channels=8).eval()
    old = ConvGenerator(6, (1, 8, 8), hidden=16, channels=8).eval()
    old.net[7], old.net[10] = nn.ConvTranspose2d(8, 4, 2, 2), nn.ConvTranspose2d(4, 1, 2, 2)
    old.load_state_dict(g.state_dict())
    z = torch.randn(4, 6)
    assert torch.allclose(g(z), old(z), atol=1e-6)


def _pre_tanh(init: str, seed: int) -> torch.Tensor:
    from genflows import build_model, load_config

    torch.manual_seed(seed)
    g = build_model(load_config("lfbm-mcmc", overrides=[f"generator.init={init}"]), (1, 28, 28)).generator.train()
    return g.net[:-1](torch.randn(100, 20)).detach()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reference_init_starts_the_mnist_generator_unsaturated(seed):
    # The latent-flow code's initialisation: pre-tanh sd 0.39-0.56 and <= 0.5 % saturated pixels
    # over 5 seeds, against 1.46-1.72 and 16-30 % with PyTorch's defaults.
    a = _pre_tanh("reference", seed)
    assert 0.3 < a.std() < 0.7 and (a.abs() > 2).float().mean() < 0.01
    b = _pre_tanh("torch", seed)
    assert b.std() > 1.2 and (b.abs() > 2).float().mean() > 0.1


def test_reference_init_is_the_default_and_validated():
    from genflows.config import load_config
    from genflows.errors import GenflowsError

    assert load_config("lfbm-mcmc").generator.init == "reference"
    with pytest.raises(GenflowsError, match="unknown generator.init 'xavier'"):
        load_config("lfbm-mcmc", overrides=["generator.init=xavier"])
