"""The module's whole training computation (encoder, Gumbel sample, decoder, loss) is one
torch.compile graph.

``NRIModule.step_loss`` is what ``training_step`` runs before it logs. ``fullgraph=True`` turns any
graph break into an error, so a data-dependent shape, a host sync (``.item()``, ``float`` of a
tensor, a branch on a tensor's value) or an untraceable call anywhere in it fails here. Graph
breaks are found by the tracer itself; the ``eager`` backend runs the captured graph as it is,
which keeps the test fast on a CPU.
"""

from __future__ import annotations

import pytest
import torch

from nri.models.module import NRIModule

SPRINGS5 = {"name": "springs", "num_atoms": 5, "suffix": "_springs5", "format": "locvel", "dims": 4,
            "edge_types": 2, "has_edges": True, "train_steps": 49, "test_burn_in": 49, "test_horizon": 20}
PREDICTION_STEPS = 10


@pytest.mark.parametrize(("encoder", "decoder"), [("mlp", "mlp"), ("cnn", "mlp"), ("mlp", "rnn")])
def test_the_modules_training_step_compiles_without_graph_breaks(encoder, decoder):
    torch._dynamo.reset()
    torch.manual_seed(0)
    module = NRIModule(SPRINGS5, {"prediction_steps": PREDICTION_STEPS}, {"name": encoder, "hidden": 8},
                       {"name": decoder, "hidden": 8})
    batch = {"x": torch.randn(3, 5, 49, 4), "edges": torch.randint(0, 2, (3, 20))}
    compiled = torch.compile(module.step_loss, fullgraph=True, backend="eager")
    torch.manual_seed(1)  # the same Gumbel noise in both runs
    log = compiled(batch)
    log["train/loss"].backward()
    grads = [p.grad.clone() for p in module.parameters()]
    module.zero_grad()
    torch.manual_seed(1)
    eager = module.step_loss(batch)
    eager["train/loss"].backward()
    assert set(log) == set(eager) >= {"train/loss", "train/nll", "train/kl", "train/edge_acc"}
    for name, value in eager.items():
        assert torch.allclose(torch.as_tensor(log[name]), torch.as_tensor(value), rtol=1e-5), name
    assert all(torch.allclose(g, p.grad, rtol=1e-4, atol=1e-6) for g, p in zip(grads, module.parameters(),
                                                                            strict=True))
