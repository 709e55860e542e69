"""The original NRI code's formulation of the same models, for a same-machine speed comparison.

``scripts/bench_train.py --baseline`` times this next to nri. It follows REFERENCE.md §1.2-1.5:
dense one-hot ``rel_rec``/``rel_send`` matrices multiplied into the node features for every
node-to-edge and edge-to-node step, one ``nn.Linear`` pair per edge type called in a Python loop,
the MLP decoder's predictions scattered into a zero tensor, the GRU-style decoder's gates as six
separate layers, a plain PyTorch loop (Adam, Gumbel-softmax, Gaussian NLL, uniform KL). Same layer
sizes as nri at the same settings, so the two do the same arithmetic in different ways. Nothing in
the package uses it.
"""

from __future__ import annotations

import math
import time

import torch
from torch import nn
from torch.nn import functional as F


def one_hot_relations(num_atoms: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Dense receiver and sender one-hots in the edge order of nri (receiver = row).

    Shapes: -> rel_rec [E, N], rel_send [E, N]
    """
    off = ~torch.eye(num_atoms, dtype=torch.bool)
    receivers, senders = off.nonzero(as_tuple=True)
    eye = torch.eye(num_atoms)
    return eye[receivers], eye[senders]


class DenseMLP(nn.Module):
    """Two ELU layers and batch norm. Shapes: [B, M, in] -> [B, M, out]"""

    def __init__(self, n_in: int, n_hid: int, n_out: int):
        super().__init__()
        self.fc1, self.fc2, self.bn = nn.Linear(n_in, n_hid), nn.Linear(n_hid, n_out), nn.BatchNorm1d(n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.elu(self.fc2(F.elu(self.fc1(x))))
        return self.bn(h.view(h.size(0) * h.size(1), -1)).view(h.size(0), h.size(1), -1)


def dense_node2edge(x, rel_rec, rel_send):
    return torch.cat([torch.matmul(rel_send, x), torch.matmul(rel_rec, x)], dim=2)


def dense_edge2node(x, rel_rec):
    incoming = torch.matmul(rel_rec.t(), x)
    return incoming / incoming.size(1)


class DenseMLPEncoder(nn.Module):
    """Shapes: x [B, N, T, D] -> logits [B, E, K]"""

    def __init__(self, n_in: int, n_hid: int, n_out: int):
        super().__init__()
        self.mlp1, self.mlp2 = DenseMLP(n_in, n_hid, n_hid), DenseMLP(2 * n_hid, n_hid, n_hid)
        self.mlp3, self.mlp4 = DenseMLP(n_hid, n_hid, n_hid), DenseMLP(3 * n_hid, n_hid, n_hid)
        self.fc_out = nn.Linear(n_hid, n_out)

    def forward(self, x, rel_rec, rel_send):
        h = self.mlp2(dense_node2edge(self.mlp1(x.reshape(x.size(0), x.size(1), -1)), rel_rec, rel_send))
        skip = h
        h = dense_node2edge(self.mlp3(dense_edge2node(h, rel_rec)), rel_rec, rel_send)
        return self.fc_out(self.mlp4(torch.cat([h, skip], dim=2)))


class DenseCNNEncoder(nn.Module):
    """Shapes: x [B, N, T, D] -> logits [B, E, K]"""

    def __init__(self, dims: int, n_hid: int, n_out: int):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv1d(2 * dims, n_hid, 5), nn.BatchNorm1d(n_hid)
        self.conv2, self.bn2 = nn.Conv1d(n_hid, n_hid, 5), nn.BatchNorm1d(n_hid)
        self.pred, self.attention = nn.Conv1d(n_hid, n_hid, 1), nn.Conv1d(n_hid, 1, 1)
        self.mlp1, self.mlp2 = DenseMLP(n_hid, n_hid, n_hid), DenseMLP(n_hid, n_hid, n_hid)
        self.mlp3 = DenseMLP(3 * n_hid, n_hid, n_hid)
        self.fc_out = nn.Linear(n_hid, n_out)

    def forward(self, x, rel_rec, rel_send):
        b, n, t, d = x.shape
        flat = x.reshape(b, n, -1)
        recv = torch.matmul(rel_rec, flat).view(-1, t, d).transpose(2, 1)
        send = torch.matmul(rel_send, flat).view(-1, t, d).transpose(2, 1)
        h = F.max_pool1d(self.bn1(F.relu(self.conv1(torch.cat([recv, send], dim=1)))), 2)
        h = self.bn2(F.relu(self.conv2(h)))
        h = (self.pred(h) * torch.softmax(self.attention(h), dim=2)).mean(dim=2)
        h = self.mlp1(h.view(b, n * (n - 1), -1))
        skip = h
        h = dense_node2edge(self.mlp2(dense_edge2node(h, rel_rec)), rel_rec, rel_send)
        return self.fc_out(self.mlp3(torch.cat([h, skip], dim=2)))


class DenseMLPDecoder(nn.Module):
    """Shapes: x [B, N, T, D]; edges [B, E, K] -> [B, N, T-1, D]"""

    def __init__(self, dims: int, edge_types: int, n_hid: int):
        super().__init__()
        self.msg_fc1 = nn.ModuleList([nn.Linear(2 * dims, n_hid) for _ in range(edge_types)])
        self.msg_fc2 = nn.ModuleList([nn.Linear(n_hid, n_hid) for _ in range(edge_types)])
        self.out_fc1, self.out_fc2 = nn.Linear(dims + n_hid, n_hid), nn.Linear(n_hid, n_hid)
        self.out_fc3 = nn.Linear(n_hid, dims)
        self.n_hid = n_hid

    def single_step(self, x, rel_rec, rel_send, rel_type):
        pre = torch.cat([torch.matmul(rel_send, x), torch.matmul(rel_rec, x)], dim=-1)
        msgs = torch.zeros(pre.size(0), pre.size(1), pre.size(2), self.n_hid)
        for i in range(len(self.msg_fc2)):
            msg = F.relu(self.msg_fc2[i](F.relu(self.msg_fc1[i](pre))))
            msgs = msgs + msg * rel_type[:, :, :, i:i + 1]
        agg = msgs.transpose(-2, -1).matmul(rel_rec).transpose(-2, -1).contiguous()
        h = F.relu(self.out_fc2(F.relu(self.out_fc1(torch.cat([x, agg], dim=-1)))))
        return x + self.out_fc3(h)

    def forward(self, x, edges, rel_rec, rel_send, pred_steps):
        x = x.transpose(1, 2).contiguous()  # [B, T, N, D]
        t = x.size(1)
        rel_type = edges.unsqueeze(1).expand(edges.size(0), t, edges.size(1), edges.size(2))
        last, cur_type = x[:, 0::pred_steps], rel_type[:, 0::pred_steps]
        preds = []
        for _ in range(pred_steps):
            last = self.single_step(last, rel_rec, rel_send, cur_type)
            preds.append(last)
        out = torch.zeros(x.size(0), preds[0].size(1) * pred_steps, x.size(2), x.size(3))
        for i, p in enumerate(preds):
            out[:, i::pred_steps] = p
        return out[:, : t - 1].transpose(1, 2).contiguous()


class DenseRNNDecoder(nn.Module):
    """Shapes: x [B, N, T, D]; edges [B, E, K] -> [B, N, T-1, D]"""

    def __init__(self, dims: int, edge_types: int, n_hid: int):
        super().__init__()
        self.msg_fc1 = nn.ModuleList([nn.Linear(2 * n_hid, n_hid) for _ in range(edge_types)])
        self.msg_fc2 = nn.ModuleList([nn.Linear(n_hid, n_hid) for _ in range(edge_types)])
        self.hidden_r, self.hidden_i, self.hidden_h = (nn.Linear(n_hid, n_hid, bias=False) for _ in range(3))
        self.input_r, self.input_i, self.input_n = (nn.Linear(dims, n_hid) for _ in range(3))
        self.out_fc1, self.out_fc2 = nn.Linear(n_hid, n_hid), nn.Linear(n_hid, n_hid)
        self.out_fc3 = nn.Linear(n_hid, dims)
        self.n_hid = n_hid

    def single_step(self, ins, rel_rec, rel_send, rel_type, hidden):
        pre = torch.cat([torch.matmul(rel_send, hidden), torch.matmul(rel_rec, hidden)], dim=-1)
        msgs = torch.zeros(pre.size(0), pre.size(1), self.n_hid)
        for i in range(len(self.msg_fc2)):
            msg = torch.tanh(self.msg_fc2[i](torch.tanh(self.msg_fc1[i](pre))))
            msgs = msgs + msg * rel_type[:, :, i:i + 1] / float(len(self.msg_fc2))
        agg = msgs.transpose(-2, -1).matmul(rel_rec).transpose(-2, -1).contiguous() / ins.size(2)
        r = torch.sigmoid(self.input_r(ins) + self.hidden_r(agg))
        i = torch.sigmoid(self.input_i(ins) + self.hidden_i(agg))
        n = torch.tanh(self.input_n(ins) + r * self.hidden_h(agg))
        hidden = (1 - i) * n + i * hidden
        pred = self.out_fc3(F.relu(self.out_fc2(F.relu(self.out_fc1(hidden)))))
        return ins + pred, hidden

    def forward(self, x, edges, rel_rec, rel_send, burn_in_steps):
        x = x.transpose(1, 2).contiguous()  # [B, T, N, D]
        hidden = torch.zeros(x.size(0), x.size(2), self.n_hid)
        preds = []
        for step in range(x.size(1) - 1):
            ins = x[:, step] if step <= burn_in_steps else preds[step - 1]
            pred, hidden = self.single_step(ins, rel_rec, rel_send, edges, hidden)
            preds.append(pred)
        return torch.stack(preds, dim=1).transpose(1, 2).contiguous()


def samples_per_second(pair: str, batches: list[torch.Tensor], hidden: int, warmup: int,
                       pred_steps: int = 10, var: float = 5e-5) -> float:
    """Train the reference formulation of ``pair`` on ``batches`` ([B, N, T, D] each) and time it.

    The first ``warmup`` batches are not timed.
    """
    enc_name, dec_name = pair.split("/")
    _, n, t, d = batches[0].shape
    k = 2
    rel_rec, rel_send = one_hot_relations(n)
    encoder = DenseMLPEncoder(t * d, hidden, k) if enc_name == "mlp" else DenseCNNEncoder(d, hidden, k)
    decoder = DenseMLPDecoder(d, k, hidden) if dec_name == "mlp" else DenseRNNDecoder(d, k, hidden)
    params = list(encoder.parameters()) + list(decoder.parameters())
    optimizer = torch.optim.Adam(params, lr=5e-4)
    start, samples = None, 0
    for step, x in enumerate(batches):
        if step == warmup:
            start = time.perf_counter()
        optimizer.zero_grad()
        logits = encoder(x, rel_rec, rel_send)
        edges = F.gumbel_softmax(logits, tau=0.5, dim=-1)
        prob = logits.softmax(-1)
        if dec_name == "mlp":
            out = decoder(x, edges, rel_rec, rel_send, pred_steps)
        else:
            out = decoder(x, edges, rel_rec, rel_send, t - pred_steps)
        target = x[:, :, 1:]
        nll = ((out - target) ** 2 / (2 * var)).sum() / (target.size(0) * target.size(1))
        kl = (prob * (torch.log(prob + 1e-16) + math.log(k))).sum() / (x.size(0) * n)
        (nll + kl).backward()
        optimizer.step()
        if start is not None:
            samples += x.size(0)
    return samples / (time.perf_counter() - start)
