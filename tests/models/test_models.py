"""Encoders and decoders: shapes, permutation equivariance, teacher forcing."""

import pytest
import torch

from nri.models.decoders import MLPDecoder, RNNDecoder
from nri.models.encoders import CNNEncoder, MLPEncoder
from nri.models.graph import adjacency_to_edges, edges_to_adjacency
from nri.registry import build_decoder, build_encoder

B, N, T, D, K = 3, 4, 16, 4, 3


def permute_edges(values: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """Edge values [B, E, F] of the graph whose objects are reordered by ``perm``."""
    adj = edges_to_adjacency(values, N)  # [B, N, N, F]
    return adjacency_to_edges(adj[:, perm][:, :, perm].movedim(-1, 1)).movedim(1, -1)


@pytest.mark.parametrize("encoder", [MLPEncoder(T, D, 32, K), MLPEncoder(T, D, 32, K, factor=False),
                                     CNNEncoder(D, 32, K), CNNEncoder(D, 32, K, factor=False)])
def test_encoders_are_permutation_equivariant(encoder):
    encoder.eval()
    x = torch.randn(B, N, T, D)
    perm = torch.randperm(N)
    logits = encoder(x)
    assert logits.shape == (B, N * (N - 1), K)
    assert torch.allclose(encoder(x[:, perm]), permute_edges(logits, perm), atol=1e-5)


@pytest.mark.parametrize("decoder", [MLPDecoder(D, K, 32), MLPDecoder(D, K, 32, skip_first=True),
                                     RNNDecoder(D, K, 32), RNNDecoder(D, K, 32, skip_first=True)])
def test_decoders_are_permutation_equivariant(decoder):
    decoder.eval()
    x = torch.randn(B, N, T, D)
    edges = torch.softmax(torch.randn(B, N * (N - 1), K), -1)
    perm = torch.randperm(N)
    out = decoder(x, edges, 5)
    assert out.shape == (B, N, T - 1, D)
    assert torch.allclose(decoder(x[:, perm], permute_edges(edges, perm), 5), out[:, perm], atol=1e-5)


def test_mlp_decoder_multi_step_equals_recursive_single_steps():
    dec = MLPDecoder(D, K, 16).eval()
    x = torch.randn(B, N, 7, D)
    edges = torch.softmax(torch.randn(B, N * (N - 1), K), -1)
    out = dec(x, edges, pred_steps=3)
    state = x[:, :, 3:4]  # start point 1 = frame 3 predicts frames 4, 5, 6
    for m in range(3):
        state = dec.single_step(state, edges)
        assert torch.allclose(out[:, :, 3 + m], state[:, :, 0], atol=1e-6)


@pytest.mark.parametrize("pred_steps", [1, 3])
def test_delta_inputs_roll_out_with_the_previous_frame(pred_steps):
    """Each step reads x_t and the change of the chosen features since the frame before it: the
    ground truth before a start point (none before frame 0), its own inputs after that."""
    dec = MLPDecoder(D, K, 16, delta_inputs=[1]).eval()
    x = torch.randn(B, N, 7, D)
    edges = torch.softmax(torch.randn(B, N * (N - 1), K), -1)
    out = dec(x, edges, pred_steps=pred_steps)
    for start in range(0, 6, pred_steps):
        prev, state = x[:, :, max(start - 1, 0): max(start - 1, 0) + 1], x[:, :, start: start + 1]
        for m in range(min(pred_steps, 6 - start)):
            prev, state = state, dec.single_step(state, edges, prev)
            assert torch.allclose(out[:, :, start + m], state[:, :, 0], atol=1e-6)
    # the change is an input: a different previous frame changes the prediction
    moved = x.clone()
    moved[:, :, 0, 1] += 1.0
    assert not torch.allclose(dec(moved, edges, 1)[:, :, 1], dec(x, edges, 1)[:, :, 1])


def test_delta_inputs_forecast_reads_the_frame_before_the_window():
    from nri.models.module import NRIModule

    ds = {"name": "toy", "num_atoms": N, "dims": D, "edge_types": K, "format": "feat",
          "train_steps": 5, "test_burn_in": 5, "test_horizon": 3}
    module = NRIModule(ds, {"prediction_steps": 1}, {"name": "mlp", "hidden": 8},
                       {"name": "mlp", "hidden": 8, "delta_inputs": [1]}, None).eval()
    x = torch.randn(B, N, 10, D)
    edges = torch.softmax(torch.randn(B, N * (N - 1), K), -1)
    pred = module.forecast(x, edges, burn_in=5, horizon=3)
    state, prev = x[:, :, 5:6], x[:, :, 4:5]
    for h in range(3):
        prev, state = state, module.decoder.single_step(state, edges, prev)
        assert torch.allclose(pred[:, :, h], state[:, :, 0], atol=1e-6)


def test_delta_inputs_must_name_features():
    with pytest.raises(ValueError, match=r"delta_inputs \[4\] are not feature indices"):
        MLPDecoder(D, K, 16, delta_inputs=[4])
    with pytest.raises(ValueError, match="needs the previous frame"):
        MLPDecoder(D, K, 16, delta_inputs=[0]).single_step(torch.randn(B, N, 1, D),
                                                          torch.rand(B, N * (N - 1), K))


def test_skip_first_ignores_type_zero():
    dec = MLPDecoder(D, 2, 16, skip_first=True).eval()
    x = torch.randn(B, N, 5, D)
    none = torch.zeros(B, N * (N - 1), 2)
    none[..., 0] = 1
    isolated = dec(x, none, 1)
    # with every edge of type 0 no messages flow: moving object 1 cannot change object 0's output
    x2 = x.clone()
    x2[:, 1] += 5
    assert torch.allclose(dec(x2, none, 1)[:, 0], isolated[:, 0])


def test_rnn_burn_in_feeds_truth_then_predictions():
    dec = RNNDecoder(D, K, 16).eval()
    x = torch.randn(B, N, 10, D)
    edges = torch.softmax(torch.randn(B, N * (N - 1), K), -1)
    a = dec(x, edges, burn_in_steps=4)
    x2 = x.clone()
    x2[:, :, 6:] = 0  # frames after the burn-in are never read
    b = dec(x2, edges, burn_in_steps=4)
    assert torch.allclose(a, b)
    assert not torch.allclose(dec(x2, edges, pred_steps=1), a)


def test_registry_rejects_unknown_names_and_options():
    ctx = {"dims": D, "edge_types": K, "timesteps": T}
    with pytest.raises(ValueError, match="unknown encoder name 'gnn'"):
        build_encoder({"name": "gnn"}, ctx)
    with pytest.raises(ValueError, match="has no option"):
        build_decoder({"name": "mlp", "hidden": 8, "width": 3}, ctx)


def test_registry_ignores_a_null_option_the_component_lacks():
    """A row config shared by decoders (delta_inputs: null) builds the RNN decoder; a set value does not."""
    ctx = {"dims": D, "edge_types": K}
    assert build_decoder({"name": "rnn", "hidden": 8, "delta_inputs": None}, ctx).hidden == 8
    with pytest.raises(ValueError, match=r"has no option\(s\) \['delta_inputs'\]"):
        build_decoder({"name": "rnn", "hidden": 8, "delta_inputs": [1]}, ctx)
    assert build_decoder({"name": "mlp", "hidden": 8, "delta_inputs": None}, ctx).delta_inputs == []


@pytest.mark.parametrize("num_types", [1, 3])
def test_typed_messages_from_nodes_equals_messages_on_edge_features(num_types):
    from nri.models.graph import edge_index, node2edge
    from nri.models.messages import TypedMessages

    msgs = TypedMessages(2 * D, 8, 6, num_types).eval()
    x = torch.randn(B, N, 7, D)
    weights = torch.rand(B, N * (N - 1), num_types)
    s, r = edge_index(N)
    assert torch.allclose(msgs.from_nodes(x, s, r, weights), msgs(node2edge(x, s, r), weights), atol=1e-6)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_typed_messages_backward_copies_no_views(activation):
    """The in-place activations act on fresh tensors: on a view, autograd would copy the whole
    message tensor back and forth in the backward pass (CopySlices / AsStridedBackward nodes)."""
    from nri.models.graph import edge_index, node2edge
    from nri.models.messages import TypedMessages

    msgs = TypedMessages(2 * D, 8, 6, 2, activation)
    x = torch.randn(B, N, 7, D, requires_grad=True)
    weights = torch.rand(B, N * (N - 1), 2, requires_grad=True)
    s, r = edge_index(N)
    for out in (msgs.from_nodes(x, s, r, weights), msgs(node2edge(x, s, r), weights)):
        seen, stack = set(), [out.grad_fn]
        while stack:
            fn = stack.pop()
            if fn is None or fn in seen:
                continue
            seen.add(fn)
            stack.extend(next_fn for next_fn, _ in fn.next_functions)
        names = {type(fn).__name__ for fn in seen}
        assert not names & {"CopySlices", "AsStridedBackward0"}, names


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("num_types", [1, 3])
def test_typed_messages_equal_one_mlp_per_edge_type(num_types, activation):
    """The fused, type-major computation is the reference's loop over K separate two-layer MLPs."""
    from nri.models.messages import TypedMessages

    torch.manual_seed(0)
    hidden, out_dim = 8, 6
    msgs = TypedMessages(2 * D, hidden, out_dim, num_types, activation).eval()
    pre = torch.randn(B, N * (N - 1), 7, 2 * D)
    weights = torch.rand(B, N * (N - 1), num_types)
    act = torch.tanh if activation == "tanh" else torch.relu
    expected = torch.zeros(B, N * (N - 1), 7, out_dim)
    for k in range(num_types):
        w1 = msgs.fc1.weight[k * hidden:(k + 1) * hidden]
        b1 = msgs.fc1.bias[k * hidden:(k + 1) * hidden]
        h = act(act(pre @ w1.T + b1) @ msgs.w2[k] + msgs.b2[k])
        expected += h * weights[:, :, None, k:k + 1]
    assert torch.allclose(msgs(pre, weights), expected, atol=1e-5)


@pytest.mark.parametrize("cls, kwargs", [(MLPDecoder, {}), (RNNDecoder, {"burn_in_steps": 4})])
def test_checkpointed_decoder_gives_the_same_outputs_and_gradients(cls, kwargs):
    torch.manual_seed(0)
    plain = cls(dims=4, edge_types=2, hidden=16, dropout=0.1)
    ckpt = cls(dims=4, edge_types=2, hidden=16, dropout=0.1, checkpoint=True)
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(3, 5, 9, 4)
    edges = torch.softmax(torch.randn(3, 20, 2), -1)
    grads, saved = [], []
    for model in (plain, ckpt):
        torch.manual_seed(1)  # same dropout masks; checkpoint replays them in the recomputation
        elements = []

        def pack(t, elements=elements):
            elements.append(t.numel())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = model(x, edges, 3, **kwargs)
        out.square().sum().backward()
        grads.append((out.detach(), [p.grad.clone() for p in model.parameters()]))
        saved.append(sum(elements))
    # checkpointing must actually keep less for the backward pass (the point of the option)
    assert saved[1] < saved[0] / 2
    torch.testing.assert_close(grads[0][0], grads[1][0])
    for a, b in zip(grads[0][1], grads[1][1], strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("steps", [14, 15, 49])
def test_temporal_cnn_equals_the_channels_first_convolutions(steps):
    """The channels-last products compute the reference's Conv1d / MaxPool1d stack exactly."""
    from torch.nn import functional as F

    from nri.models.layers import TemporalCNN

    torch.manual_seed(0)
    cnn = TemporalCNN(6, 16, 12).double()
    x = torch.randn(7, steps, 6, dtype=torch.float64, requires_grad=True)

    def channels_first(inp):
        h = cnn.bn1(F.relu(cnn.conv1(inp.transpose(1, 2))))
        h = cnn.bn2(F.relu(cnn.conv2(F.max_pool1d(h, 2))))
        return (cnn.pred(h) * torch.softmax(cnn.attention(h), dim=-1)).mean(dim=-1)

    for train in (True, False):
        cnn.train(train)
        out = cnn(x)
        grads = torch.autograd.grad(out.square().sum(), [x, *cnn.parameters()])
        ref = channels_first(x)
        ref_grads = torch.autograd.grad(ref.square().sum(), [x, *cnn.parameters()])
        assert out.shape == (7, 12)
        assert torch.allclose(out, ref, atol=1e-12)
        for g, r in zip(grads, ref_grads, strict=True):
            assert torch.allclose(g, r, atol=1e-10)


def test_checkpointed_cnn_encoder_equals_the_plain_one_running_statistics_included():
    """Recomputing the CNN in backward changes nothing: outputs, gradients, batch-norm buffers."""
    import copy

    torch.manual_seed(0)
    plain = CNNEncoder(D, 16, K, dropout=0.3).double().train()
    ckpt = copy.deepcopy(plain)
    ckpt.cnn.checkpoint = True
    x = torch.randn(B, N, T, D, dtype=torch.float64)
    results, saved = [], []
    for model in (plain, ckpt):
        torch.manual_seed(1)  # the same dropout masks; the recomputation replays them
        elements = []

        def pack(t, elements=elements):
            elements.append(t.numel())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = model(x)
        out.square().sum().backward()
        results.append((out.detach(), [p.grad for p in model.parameters()], list(model.buffers())))
        saved.append(sum(elements))
    assert saved[1] < saved[0] / 2  # the CNN's activations are not kept for the backward pass
    (out0, grads0, buffers0), (out1, grads1, buffers1) = results
    assert torch.equal(out0, out1)
    for a, b in zip(grads0 + buffers0, grads1 + buffers1, strict=True):
        assert torch.equal(a, b)  # running statistics updated once, as without the checkpoint
    with torch.no_grad():  # evaluation is untouched by the option
        assert torch.equal(plain.eval()(x), ckpt.eval()(x))
