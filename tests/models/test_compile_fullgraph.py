"""The whole training computation (encoder, Gumbel sample, decoder, loss) is one torch.compile graph.

``fullgraph=True`` turns any graph break into an error, so a data-dependent shape, a host sync or
an untraceable call anywhere in the step fails here. Graph breaks are found by the tracer itself;
the ``eager`` backend runs the captured graph as it is, which keeps the test fast on a CPU.
"""

from __future__ import annotations

import pytest
import torch

from nri import losses
from nri.models.module import NRIModule

SPRINGS5 = {"name": "springs", "num_atoms": 5, "suffix": "_springs5", "format": "locvel", "dims": 4,
            "edge_types": 2, "has_edges": True, "train_steps": 49, "test_burn_in": 49, "test_horizon": 20}
PREDICTION_STEPS = 10


def training_loss(module: NRIModule, x: torch.Tensor) -> torch.Tensor:
    """The ELBO as NRIModule.training_step forms it, without the host-side logging.

    Shapes: x [B, N, T, D] -> scalar
    """
    logits = module.encode(x[:, :, : SPRINGS5["train_steps"]])
    edges = module.sample_edges(logits, hard=False)
    preds = module.decoder(x, edges, PREDICTION_STEPS)
    nll = losses.gaussian_nll(preds, x[:, :, 1:], module.variance)
    return nll + losses.kl_categorical(logits.softmax(-1), None, module.num_atoms)


@pytest.mark.parametrize("encoder", ["mlp", "cnn"])
def test_the_training_step_compiles_without_graph_breaks(encoder):
    torch._dynamo.reset()
    torch.manual_seed(0)
    module = NRIModule(SPRINGS5, {"prediction_steps": PREDICTION_STEPS}, {"name": encoder, "hidden": 8},
                       {"name": "mlp", "hidden": 8})
    x = torch.randn(3, 5, 49, 4)
    compiled = torch.compile(training_loss, fullgraph=True, backend="eager")
    torch.manual_seed(1)  # the same Gumbel noise in both runs
    loss = compiled(module, x)
    loss.backward()
    grads = [p.grad.clone() for p in module.parameters()]
    module.zero_grad()
    torch.manual_seed(1)
    eager = training_loss(module, x)
    eager.backward()
    assert torch.allclose(loss, eager, rtol=1e-5)
    assert all(torch.allclose(g, p.grad, rtol=1e-4, atol=1e-6) for g, p in zip(grads, module.parameters(),
                                                                            strict=True))
