"""Batches drawn on the data's device: every sample once per epoch, labels kept with their samples."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch

from nri.data.device_batches import DeviceBatches


def _split(samples: int = 10, with_edges: bool = True) -> SimpleNamespace:
    x = torch.arange(samples, dtype=torch.float32).reshape(samples, 1, 1, 1).expand(samples, 2, 3, 4)
    edges = torch.arange(samples).reshape(samples, 1).expand(samples, 2) if with_edges else None
    return SimpleNamespace(x=x, edges=edges)


def _ids(batches) -> list[list[int]]:
    return [b["x"][:, 0, 0, 0].long().tolist() for b in batches]


def test_an_epoch_draws_every_sample_once_with_its_labels():
    torch.manual_seed(0)
    loader = DeviceBatches(_split(), batch_size=4)
    first, second = list(loader), list(loader)
    assert len(loader) == 3 and [b["x"].shape[0] for b in first] == [4, 4, 2]
    for epoch in (first, second):
        assert sorted(sum(_ids(epoch), [])) == list(range(10))
        assert all(torch.equal(b["edges"][:, 0], b["x"][:, 0, 0, 0].long()) for b in epoch)
    assert _ids(first) != _ids(second)  # a new order every epoch
    torch.manual_seed(0)
    assert _ids(DeviceBatches(_split(), batch_size=4)) == _ids(first)  # the seed fixes the order


def test_no_shuffle_keeps_the_order_and_drop_last_keeps_the_size():
    loader = DeviceBatches(_split(with_edges=False), batch_size=4, shuffle=False, drop_last=True)
    batches = list(loader)
    assert len(loader) == 2 and _ids(batches) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert "edges" not in batches[0]


def test_shards_are_disjoint_and_equal():
    shards = []
    for shard in range(3):
        torch.manual_seed(0)
        shards.append(sum(_ids(DeviceBatches(_split(), batch_size=2, num_shards=3, shard=shard)), []))
    assert [len(s) for s in shards] == [3, 3, 3] and len(set(sum(shards, []))) == 9


@pytest.mark.parametrize(("kwargs", "message"), [({"batch_size": 0}, "batch_size must be a positive"),
                                                 ({"batch_size": 2, "num_shards": 2, "shard": 2},
                                                  r"shard must be in \[0, num_shards=2\)")])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DeviceBatches(_split(), **kwargs)


def test_lightning_trains_on_it_for_its_length():
    class Counting(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))
            self.seen = []

        def training_step(self, batch, batch_idx):
            self.seen += batch["x"][:, 0, 0, 0].long().tolist()
            return (self.w - batch["x"].mean()) ** 2

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    module = Counting()
    trainer = pl.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, train_dataloaders=DeviceBatches(_split(), batch_size=4))
    assert trainer.global_step == 6 and sorted(module.seen) == sorted(list(range(10)) * 2)
