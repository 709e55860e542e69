"""Test-time adaptation of edge logits: lowers the sample's ELBO, touches no weight."""

import pytest
import torch

from nri.models.adaptation import adapt_edge_logits, elbo_of_logits
from nri.models.decoders import MLPDecoder

B, N, T, D, K = 3, 4, 8, 4, 2
VAR = 5e-3


def setup():
    decoder = MLPDecoder(D, K, 16).eval()
    x = torch.randn(B, N, T, D)
    logits = torch.randn(B, N * (N - 1), K)
    return decoder, x, logits, (lambda frames, edges: decoder(frames, edges, 2))


def test_adaptation_lowers_each_samples_elbo_and_leaves_the_decoder_alone():
    decoder, x, logits, decode = setup()
    adapted = adapt_edge_logits(logits, x, decode, VAR, steps=8, lr=0.1, tau=0.5)
    for i in range(B):
        one = slice(i, i + 1)
        before = elbo_of_logits(logits[one], x[one], decode, VAR, 0.5)
        after = elbo_of_logits(adapted[one], x[one], decode, VAR, 0.5)
        assert after < before
    assert all(p.grad is None for p in decoder.parameters())
    assert not adapted.requires_grad


def test_no_steps_returns_the_encoders_logits():
    _, x, logits, decode = setup()
    assert torch.equal(adapt_edge_logits(logits, x, decode, VAR, steps=0, lr=0.1, tau=0.5), logits)


def test_samples_are_adapted_independently():
    _, x, logits, decode = setup()
    together = adapt_edge_logits(logits, x, decode, VAR, steps=5, lr=0.1, tau=0.5)
    alone = adapt_edge_logits(logits[:1], x[:1], decode, VAR, steps=5, lr=0.1, tau=0.5)
    assert torch.allclose(together[:1], alone, atol=1e-5)


def test_adaptation_runs_inside_inference_mode():
    _, x, logits, decode = setup()
    with torch.inference_mode():  # as in Lightning's test loop: the batch is an inference tensor
        x_inference, logits_inference = x.clone(), logits.clone()
        adapted = adapt_edge_logits(logits_inference, x_inference, decode, VAR, steps=3, lr=0.1, tau=0.5)
    assert not torch.equal(adapted, logits)


def test_bad_settings_are_refused_in_one_line():
    _, x, logits, decode = setup()
    with pytest.raises(ValueError, match="test-time adaptation needs"):
        adapt_edge_logits(logits, x, decode, VAR, steps=3, lr=0.0, tau=0.5)


# --------------------------------------------------------------------------------------------
# Through the module (model.adapt) and nri.eval (+model_overrides.adapt.*)

def _tiny_module(tiny_springs, tmp_path, *extra):
    from hydra.core.global_hydra import GlobalHydra
    from hydra_utils import tiny_train_cfg

    from nri.build import build_module

    cfg = tiny_train_cfg(tiny_springs, tmp_path, "logger=none", *extra)
    GlobalHydra.instance().clear()
    return build_module(cfg, None).eval()


@pytest.mark.parametrize("symmetry", ["none", "hard"])
def test_module_adapts_its_evaluation_logits_only_when_asked(tiny_springs, tmp_path, symmetry):
    from nri.models.symmetry import reverse_edges

    module = _tiny_module(tiny_springs, tmp_path, f"model.symmetry={symmetry}")
    batch = {"x": torch.randn(2, 5, 15, 4)}
    encoder_logits = module._logits(batch, 15)
    assert torch.equal(module._eval_logits(batch, 15, adapt_here=True), encoder_logits)  # steps 0: untouched
    module.cfg["adapt"] = {"steps": 4, "lr": 0.1, "tau": 0.5, "validation": False}
    assert torch.equal(module._eval_logits(batch, 15, adapt_here=False), encoder_logits)
    with torch.inference_mode():  # as Lightning's test loop runs it
        adapted = module._eval_logits(batch, 15, adapt_here=True)
    assert torch.allclose(module._eval_logits(batch, 15, adapt_here=True), adapted, atol=1e-6)
    assert not torch.allclose(adapted, encoder_logits)
    steps = int(module.cfg["prediction_steps"])

    def decode(x, edges):
        return module.decode(x, edges, steps)

    before = elbo_of_logits(encoder_logits, batch["x"], decode, module.variance, 0.5)
    after = elbo_of_logits(adapted, batch["x"], decode, module.variance, 0.5)
    assert after < before
    if symmetry == "hard":
        assert torch.equal(adapted, adapted[:, reverse_edges(5)])
    assert all(p.grad is None for p in module.parameters())


def test_adaptation_refuses_an_objective_without_a_decoder(tiny_springs, tmp_path):
    module = _tiny_module(tiny_springs, tmp_path, "model=supervised")
    module.cfg["adapt"] = {"steps": 2, "lr": 0.1, "tau": 0.5, "validation": False}
    with pytest.raises(ValueError, match="model.adapt.steps > 0 needs model.objective=elbo"):
        module._eval_logits({"x": torch.randn(2, 5, 15, 4)}, 15, adapt_here=True)


def test_eval_adapts_a_trained_model_and_records_it(tiny_springs, tmp_path):
    import json

    from hydra.core.global_hydra import GlobalHydra
    from hydra_utils import compose_cfg, tiny_train_cfg

    from nri.eval import evaluate
    from nri.train import run

    run(tiny_train_cfg(tiny_springs, tmp_path / "train", "logger=none", "threads=1"))
    GlobalHydra.instance().clear()
    ckpt = tmp_path / "train" / "checkpoints" / "last.ckpt"
    results = {}
    for steps in (0, 5):
        cfg = compose_cfg("eval", [f"ckpt_path={ckpt}", f"data_dir={tiny_springs}",
                                   "trainer.enable_progress_bar=false",
                                   f"+model_overrides.adapt.steps={steps}", "+model_overrides.adapt.lr=1.0"],
                          tmp_path / f"eval{steps}")
        GlobalHydra.instance().clear()
        results[steps] = evaluate(cfg)
        written = json.loads((tmp_path / f"eval{steps}" / "metrics.json").read_text())
        assert written["model_overrides"] == {"adapt": {"steps": steps, "lr": 1.0}}
    assert results[5]["test/mse"] != results[0]["test/mse"]  # the adapted graph is what was scored
    # validation adapts only when model.adapt.validation says so
    scored = {}
    for validation in ("false", "true"):
        cfg = compose_cfg("eval", [f"ckpt_path={ckpt}", f"data_dir={tiny_springs}", "split=valid",
                                   "trainer.enable_progress_bar=false", "+model_overrides.adapt.steps=5",
                                   "+model_overrides.adapt.lr=1.0",
                                   f"+model_overrides.adapt.validation={validation}"],
                          tmp_path / f"valid_{validation}")
        GlobalHydra.instance().clear()
        scored[validation] = evaluate(cfg)
    plain_cfg = compose_cfg("eval", [f"ckpt_path={ckpt}", f"data_dir={tiny_springs}", "split=valid",
                                     "trainer.enable_progress_bar=false"], tmp_path / "valid_plain")
    GlobalHydra.instance().clear()
    unadapted = evaluate(plain_cfg)
    nll = next(k for k in unadapted if k.endswith("nll"))
    assert scored["false"][nll] == unadapted[nll]
    assert scored["true"][nll] != unadapted[nll]
