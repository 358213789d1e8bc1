import torch

from genflows import ConvGenerator, FlowPrior, GaussianPrior, LangevinInference, LatentModel


def _model(prior_cls=FlowPrior):
    torch.manual_seed(0)
    prior = FlowPrior(6, depth=2, hidden=16) if prior_cls is FlowPrior else GaussianPrior(6)
    gen = ConvGenerator(6, (1, 8, 8), hidden=32, channels=16)
    return LatentModel(prior, gen, LangevinInference(n_steps=30, step_size=0.1)).eval()


def test_inference_raises_log_joint_over_its_start():
    for prior_cls in (FlowPrior, GaussianPrior):
        model = _model(prior_cls)
        x = torch.rand(16, 1, 8, 8) * 2 - 1
        z0 = torch.randn(16, 6)
        z = model.infer(x, z0=z0, noise=False)
        with torch.no_grad():
            assert (model.log_joint(x, z) > model.log_joint(x, z0)).all()


def test_masked_inference_ignores_hidden_pixels():
    model = _model()
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    mask = torch.ones(1, 1, 8, 8)
    mask[..., 2:6, 2:6] = 0
    x2 = x.clone()
    x2[..., 2:6, 2:6] = torch.rand(4, 1, 4, 4)  # change only hidden pixels
    z0 = torch.randn(4, 6)
    z_a = model.infer(x, mask=mask, z0=z0, noise=False)
    z_b = model.infer(x2, mask=mask, z0=z0, noise=False)
    assert torch.allclose(z_a, z_b)


def test_inference_leaves_parameters_trainable_and_builds_no_param_graph():
    model = _model()
    model.train()
    x = torch.rand(8, 1, 8, 8) * 2 - 1
    z = model.infer(x)
    assert not z.requires_grad
    assert all(p.requires_grad for p in model.parameters())
    assert all(p.grad is None for p in model.parameters())


def test_bfloat16_autocast_chain_stays_close_to_float32():
    model = _model()
    x = torch.rand(16, 1, 8, 8) * 2 - 1
    z0 = torch.randn(16, 6)
    z32 = model.infer(x, z0=z0, noise=False)
    model.inference.autocast = True
    z16 = model.infer(x, z0=z0, noise=False)
    assert z16.dtype == torch.float32
    assert (z16 - z32).norm() / (z32 - z0).norm() < 0.1


def test_autocast_auto_uses_bf16_only_where_it_is_fast(monkeypatch):
    import genflows.inference.langevin as mod
    from genflows.config import load_config

    assert load_config("lfbm-mcmc", overrides=["inference.autocast=auto"]).inference.autocast == "auto"
    model = _model()
    model.inference.autocast = "auto"
    x, z0 = torch.rand(8, 1, 8, 8) * 2 - 1, torch.randn(8, 6)
    seen = []
    real = mod.torch.autocast

    def spy(device_type, dtype=None, enabled=True):
        if dtype is torch.bfloat16:  # the generator's autocast (the prior's only switches it off)
            seen.append(enabled)
        return real(device_type, dtype=dtype, enabled=enabled)

    monkeypatch.setattr(mod.torch, "autocast", spy)
    for fast in (False, True):  # a CPU without, then with, native bf16
        monkeypatch.setattr(mod, "bf16_helps", lambda device, fast=fast: fast)
        seen.clear()
        model.infer(x, z0=z0, n_steps=2, noise=False)
        assert seen == [fast, fast] and model.inference.uses_bf16("cpu") is fast
    model.inference.autocast = False
    assert not model.inference.uses_bf16("cuda")


def test_posterior_energy_keeps_the_prior_in_float32_under_outer_autocast():
    # --amp wraps the training loss in bf16 autocast; the chain's prior term must not follow it.
    model = _model()
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    z = torch.randn(4, 6)
    with torch.no_grad():
        want = model.prior.log_prob(z)
    seen = []
    log_prob = model.prior.log_prob
    model.prior.log_prob = lambda v: seen.append(log_prob(v).dtype) or log_prob(v)
    model.inference.written_out = False
    U = model.inference.energy(model.prior, model.generator, x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        u = U(z)
    assert seen == [torch.float32] and u.dtype == torch.float32
    assert {p.dtype for p in model.prior.parameters()} == {torch.float32}
    torch.testing.assert_close(-u - model.generator.log_likelihood(x, z).float(), want, atol=1e-4, rtol=1e-4)


def test_written_out_chain_equals_the_autograd_chain():
    from genflows.langevin import frozen

    torch.manual_seed(0)
    for prior in (FlowPrior(6, depth=2, hidden=16), GaussianPrior(6)):
        gen = ConvGenerator(6, (1, 8, 8), hidden=32, channels=8).train()  # batch statistics in the chain
        with torch.no_grad():
            prior.train()
            if isinstance(prior, FlowPrior):
                prior.transform(torch.randn(64, 6))  # actnorm initialised, as by the first chain
                for p in prior.parameters():
                    p.add_(0.1 * torch.randn_like(p))
        x, z0 = torch.rand(30, 1, 8, 8) * 2 - 1, torch.randn(30, 6)
        mask = (torch.rand(30, 1, 8, 8) > 0.4).float()
        inf = LangevinInference(n_steps=25, step_size=0.1, noise=False)
        with frozen(prior, gen):
            energy = inf.energy(prior, gen, x, mask)
            z = z0.clone().requires_grad_(True)
            u_auto = energy(z)
            (g_auto,) = torch.autograd.grad(u_auto.sum(), z)
            u_fast, g_fast = energy.value_and_grad(z0)
        assert torch.allclose(u_fast, u_auto, rtol=1e-5, atol=1e-4)
        assert torch.allclose(g_fast, g_auto, rtol=1e-6, atol=1e-6 * g_auto.abs().max().item())
        fast = inf(prior, gen, x, mask=mask, z0=z0)
        inf.written_out = False
        slow = inf(prior, gen, x, mask=mask, z0=z0)
        assert torch.allclose(fast, slow, rtol=1e-6, atol=1e-6 * slow.abs().max().item()), type(prior).__name__


def test_config_key_lets_chains_move_batchnorm_statistics():
    from genflows.config import load_config
    from genflows.inference import build_inference

    for value, want in (([], False), (["inference.bn_stats_from_chain=true"], True)):
        cfg = load_config("lfbm-mcmc", overrides=value)
        assert build_inference(cfg.inference, 4, (1, 8, 8)).bn_stats_from_chain is want
