import math

import pytest
import torch
from torch.nn import functional as F

from nri import losses, metrics
from nri.models.schedules import temperature


def test_kl_of_uniform_posterior_is_zero():
    probs = torch.full((3, 20, 4), 0.25)
    assert losses.kl_categorical(probs, None, 5).abs() < 1e-6


def test_kl_is_positive_and_matches_closed_form():
    probs = torch.tensor([[[0.9, 0.1]]])
    expected = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)
    assert losses.kl_categorical(probs, None, 1).item() == pytest.approx(expected, rel=1e-5)


def test_sparsity_prior_for_any_k():
    lp = losses.make_log_prior(3, no_edge_prob=0.8)
    assert torch.allclose(lp.exp(), torch.tensor([0.8, 0.1, 0.1]))
    probs = lp.exp().expand(2, 6, 3)
    assert losses.kl_categorical(probs, lp, 3).abs() < 1e-6
    with pytest.raises(ValueError, match="summing to 1"):
        losses.make_log_prior(2, prior=[0.5, 0.6])


def test_gaussian_nll_with_one_variance_per_feature():
    torch.manual_seed(0)
    preds, target = torch.randn(2, 3, 4, 2), torch.randn(2, 3, 4, 2)
    per_feature = losses.gaussian_nll(preds, target, torch.tensor([0.5, 2.0]))
    by_hand = (losses.gaussian_nll(preds[..., :1], target[..., :1], 0.5)
               + losses.gaussian_nll(preds[..., 1:], target[..., 1:], 2.0))
    assert per_feature.item() == pytest.approx(by_hand.item(), rel=1e-6)
    same = losses.gaussian_nll(preds, target, torch.tensor([0.5, 0.5]), add_const=True)
    assert same.item() == pytest.approx(losses.gaussian_nll(preds, target, 0.5, add_const=True).item(), rel=1e-6)


def test_variance_setting_is_checked():
    assert losses.parse_variance(5e-5, 3) == 5e-5
    assert torch.equal(losses.parse_variance([0.01, 1, 1], 3), torch.tensor([0.01, 1.0, 1.0]))
    with pytest.raises(ValueError, match="list of 3 positive numbers"):
        losses.parse_variance([0.01, 1.0], 3)
    with pytest.raises(ValueError, match="must be positive"):
        losses.parse_variance(0.0, 3)


def test_gaussian_nll_matches_reference_normalisation():
    preds, target = torch.zeros(2, 5, 3, 4), torch.ones(2, 5, 3, 4)
    assert losses.gaussian_nll(preds, target, 0.5).item() == pytest.approx(2 * 5 * 3 * 4 / (2 * 0.5) / 10)


def test_hard_gumbel_samples_are_one_hot():
    sample = F.gumbel_softmax(torch.randn(4, 20, 3), tau=0.5, hard=True)
    assert torch.equal(sample.sum(-1), torch.ones(4, 20))
    assert set(sample.unique().tolist()) <= {0.0, 1.0}


def test_best_permutation_recovers_swapped_labels():
    labels = torch.tensor([0, 1, 1, 0, 1])
    pred = 1 - labels
    counts = metrics.confusion_counts(pred, labels, 2)
    perm, acc = metrics.best_permutation(counts)
    assert perm == (1, 0) and acc == 1.0
    assert metrics.edge_accuracy(F.one_hot(pred, 2).float()[None], labels[None]) == 0


def test_auroc():
    assert metrics.auroc(torch.tensor([0.1, 0.2, 0.8, 0.9]), torch.tensor([0, 0, 1, 1])) == 1.0
    assert metrics.auroc(torch.tensor([0.5, 0.5]), torch.tensor([0, 1])) == 0.5
    assert math.isnan(metrics.auroc(torch.tensor([0.5, 0.4]), torch.tensor([1, 1])))


@pytest.mark.parametrize("kind", ["exponential", "cosine", "linear"])
def test_temperature_schedules_go_from_start_to_end(kind):
    assert temperature(0, kind, 2.0, 0.5, 100) == pytest.approx(2.0)
    assert temperature(100, kind, 2.0, 0.5, 100) == pytest.approx(0.5)
    assert temperature(10_000, kind, 2.0, 0.5, 100) == pytest.approx(0.5)
    assert 0.5 < temperature(50, kind, 2.0, 0.5, 100) < 2.0


def test_unknown_schedule_is_an_error():
    with pytest.raises(ValueError, match="unknown temperature schedule"):
        temperature(0, "warp")


def test_module_weighs_features_by_their_variance_and_rejects_a_wrong_count():
    from tiny_data import TINY_DATASET

    from nri.models.module import NRIModule

    enc, dec = {"name": "mlp", "hidden": 8}, {"name": "mlp", "hidden": 8}
    dims = TINY_DATASET["dims"]
    module = NRIModule(TINY_DATASET, {"var": [0.01] + [1.0] * (dims - 1)}, enc, dec)
    assert torch.equal(module.variance, torch.tensor([0.01] + [1.0] * (dims - 1)))
    with pytest.raises(ValueError, match=f"list of {dims} positive numbers"):
        NRIModule(TINY_DATASET, {"var": [0.01, 1.0]}, enc, dec)
