import pytest
import torch
from torch import nn

from genflows.generators import ConvGenerator, PatchConvTranspose2d


@pytest.mark.parametrize("cin,cout,size", [(16, 8, 7), (8, 1, 14), (4, 3, 1)])
def test_patch_conv_transpose_equals_conv_transpose(cin, cout, size):
    torch.manual_seed(0)
    fast = PatchConvTranspose2d(cin, cout, 2, 2)
    ref = nn.ConvTranspose2d(cin, cout, 2, 2)
    ref.load_state_dict(fast.state_dict())
    x = torch.randn(5, cin, size, size, requires_grad=True)
    a, b = fast(x), ref(x)
    assert torch.allclose(a, b, atol=1e-6)
    gy = torch.randn_like(a)
    for ga, gb in zip(torch.autograd.grad(a, [x, fast.weight, fast.bias], gy), torch.autograd.grad(b, [x, ref.weight, ref.bias], gy)):
        assert torch.allclose(ga, gb, rtol=1e-5, atol=1e-5)


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
