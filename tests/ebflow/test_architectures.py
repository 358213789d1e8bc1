"""EBFlow's FC and CNN flows: the change of variables against the brute-force Jacobian, the
convolution's matrix against autograd, exact inverses, and the paper's parameter counts."""

import pytest
import torch

from genflows.ebflow import EBFlow
from genflows.ebflow.architectures import Conv, cnn, coupling, fc
from genflows.errors import GenflowsError


def _perturbed(net, scale=0.2):
    torch.manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(scale * torch.randn_like(p))
    return net.double().eval()  # eval: an ActNorm keeps its (perturbed) parameters instead of reading the batch


NETS = {"fc": lambda: fc(6, num_layers=3), "cnn": lambda: cnn((1, 4, 4), num_layers=4, num_blocks=2, kernel_size=3),
        "coupling": lambda: coupling(2, num_blocks=3, hidden=8)}
DIM = {"fc": 6, "cnn": 16, "coupling": 2}


@pytest.mark.parametrize("arch", sorted(NETS))
def test_log_density_is_the_change_of_variables_with_the_full_jacobian(arch):
    """log N(g(v)) + log|det dg/dv| by autograd's D x D Jacobian equals the flow's split
    (non-linear log-determinants per example + the linear layers' log-determinants)."""
    net = _perturbed(NETS[arch]())
    v = torch.randn(4, DIM[arch], dtype=torch.float64)
    u, logdet_nonlinear = net(v)
    for i in range(len(v)):
        jac = torch.autograd.functional.jacobian(lambda x: net(x.unsqueeze(0))[0][0], v[i])
        torch.testing.assert_close(logdet_nonlinear[i] + net.log_det_linear(), torch.linalg.slogdet(jac)[1])


def test_convolution_matrix_is_its_jacobian():
    conv = _perturbed(Conv(2, kernel_size=3))
    x = torch.randn(1, 2, 4, 4, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda h: conv(h.view(1, 2, 4, 4)).flatten(), x.flatten())
    torch.testing.assert_close(conv.matrix((2, 4, 4)), jac)
    torch.testing.assert_close(conv.inverse(conv(x)), x)


@pytest.mark.parametrize("arch", sorted(NETS))
def test_inverse_is_exact(arch):
    net = _perturbed(NETS[arch]())
    u = torch.randn(5, DIM[arch], dtype=torch.float64)
    torch.testing.assert_close(net(net.inverse(u))[0], u, rtol=1e-7, atol=1e-7)


def test_paper_sizes_and_cnn_energy_gap():
    """MNIST: FC 1.23 M parameters, CNN 0.027 M (the paper's Table 2); E + log p = log|det| for the CNN too."""
    assert sum(p.numel() for p in fc(784).parameters()) == 2 * (784 * 784 + 784)
    assert round(sum(p.numel() for p in cnn((1, 28, 28)).parameters()) / 1e6, 3) == 0.027
    m = EBFlow(dim=16, data_shape=(1, 4, 4), arch="cnn", num_layers=4, num_blocks=2, kernel_size=3).double()
    v = torch.randn(7, 16, dtype=torch.float64) * 2
    torch.testing.assert_close(m.energy(v) + m.log_prob_v(v), m.log_det_linear().expand(7))


def test_cnn_refuses_what_it_cannot_squeeze():
    with pytest.raises(GenflowsError, match="must divide by 4"):
        cnn((1, 6, 6), num_layers=3, num_blocks=3)
    with pytest.raises(GenflowsError, match="needs images"):
        cnn((2,))


def test_actnorm_standardises_the_first_training_batch_and_then_stays():
    net = coupling(2, num_blocks=1, hidden=4).train()
    x = torch.randn(500, 2) * torch.tensor([5.0, 0.5]) + 3
    act = next(m for m in net.linears if type(m).__name__ == "ActNorm")
    h = net.linears[0](x)
    h, _ = net.couplings[0](h)
    out = act(h)
    torch.testing.assert_close(out.mean(0), torch.zeros(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.std(0), torch.ones(2), atol=1e-4, rtol=0)
    before = act.loc.detach().clone()
    act(h * 7)
    assert torch.equal(act.loc.detach(), before)  # initialised once
