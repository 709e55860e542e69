"""Training batches drawn where the data lives: one permutation per epoch on the device.

A ``DataLoader`` over a split held on a GPU still works on the host at every step: its sampler
draws the indices as a Python list, the list is turned into a tensor and copied to the device, and
the fetcher and collate run in between. Here the epoch's order is one ``torch.randperm`` on the
data's device and every batch is an ``index_select`` by a slice of it, so a step costs the host
two kernel launches and no copy or synchronisation.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch


class DeviceBatches:
    """Iterate over ``split`` (anything with tensors ``x`` [S, ...] and ``edges`` [S, E] or None).

    ``shuffle`` draws a new order every epoch from torch's generator of the data's device (seeded
    by ``pytorch_lightning.seed_everything``); ``drop_last`` keeps every batch the same size, which
    CUDA graphs need. With ``num_shards`` > 1 (one per process) every process draws the same order
    and takes every ``num_shards``-th sample from ``shard`` on, so the shards are disjoint.

    Shapes: yields {"x": [B, ...], "edges": [B, E]} (no "edges" when the split has none)
    """

    def __init__(self, split, batch_size: int, shuffle: bool = True, drop_last: bool = False,
                 num_shards: int = 1, shard: int = 0):
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        if not 0 <= shard < num_shards:
            raise ValueError(f"shard must be in [0, num_shards={num_shards}), got {shard}")
        self.x, self.edges = split.x, split.edges
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.num_shards, self.shard = num_shards, shard

    def _samples(self) -> int:
        """Samples of this shard (the order is cut to a multiple of num_shards so all are equal)."""
        return self.x.shape[0] // self.num_shards

    def __len__(self) -> int:
        full, rest = divmod(self._samples(), self.batch_size)
        return full if self.drop_last or not rest else full + 1

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        total, device = self.x.shape[0], self.x.device
        order = torch.randperm(total, device=device) if self.shuffle else torch.arange(total, device=device)
        mine = order[self.shard: self._samples() * self.num_shards: self.num_shards]  # [S / shards]
        for i in range(len(self)):
            idx = mine[i * self.batch_size: (i + 1) * self.batch_size]
            batch = {"x": self.x.index_select(0, idx)}
            if self.edges is not None:
                batch["edges"] = self.edges.index_select(0, idx)
            yield batch
