"""Choose the optimiser settings of ml-100k/mf-rating on a validation share (never on a test fold).

Fold 0 of the 5-fold split keeps 10 % of its training ratings aside as validation; each candidate
trains on the rest for 20 epochs and is scored by validation RMSE. The winner is what the
experiment uses for the 5-fold cross-validation.
Run: RECFRAME_DATA=../shared/data OMP_NUM_THREADS=1 python scripts/select_rating_hparams.py
"""

from __future__ import annotations

import torch

from recframe.backbones.mf import MF
from recframe.data import DATASETS
from recframe.data.datamodule import RecDataModule
from recframe.data.splits import TRAIN, VALID
from recframe.losses import mse

CANDIDATES = [  # (lr, reg, batch) for AdamW, 100 factors, 20 epochs
    (0.001, 0.02, 256),
    (0.001, 0.05, 256),
    (0.002, 0.05, 256),
    (0.002, 0.1, 256),
    (0.005, 0.1, 1024),
    (0.002, 0.2, 256),
]


def main() -> None:
    log = DATASETS.get("movielens")(variant="100k")
    split = {"folds": 5, "fold": 0, "seed": 0, "val_ratio": 0.1}
    dm = RecDataModule(log, sequential=False, split="kfold", split_args=split, feedback="rating")
    enc, stage = dm.log_, dm.stage
    tr, va = stage == TRAIN, stage == VALID
    u, i, r = (torch.as_tensor(x[tr]) for x in (enc.user, enc.item, enc.rating))
    uv, iv, rv = (torch.as_tensor(x[va]) for x in (enc.user, enc.item, enc.rating))
    for lr, reg, batch in CANDIDATES:
        torch.manual_seed(0)
        model = MF(dm.spec, dim=100, biased=True)
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
        g = torch.Generator().manual_seed(0)
        for _ in range(20):
            perm = torch.randperm(len(u), generator=g)
            for s in range(0, len(u), batch):
                b = perm[s : s + batch]
                loss = mse(model({"user": u[b]})[:, 0], model.item_embeddings(), i[b], r[b], reg=reg)
                opt.zero_grad()
                loss.backward()
                opt.step()
        with torch.no_grad():
            pred = (model({"user": uv})[:, 0] * model.item_embeddings()[iv]).sum(-1)
        print(
            f"lr={lr} reg={reg} batch={batch}: validation RMSE {float(((pred - rv) ** 2).mean().sqrt()):.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
