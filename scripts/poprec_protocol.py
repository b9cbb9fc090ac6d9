"""Which popularity count reproduces the published PopRec numbers of the S3-Rec table?

PopRec ranks items by interaction count. recframe counts training interactions only, the only
choice that uses no evaluation data. This script scores PopRec under every variant — counts from
train, train + validation, or all interactions (test included); training items masked or not;
pessimistic or optimistic ties — on S3-Rec Beauty and LastFM, so the docs can say exactly which
protocol the published numbers correspond to.
Run: RECFRAME_DATA=../shared/data OMP_NUM_THREADS=1 python scripts/poprec_protocol.py
"""

from __future__ import annotations

import numpy as np
import torch

from recframe.data import DATASETS
from recframe.data.datamodule import RecDataModule
from recframe.data.splits import TEST
from recframe.metrics import mask_items, ranking_metrics, target_ranks

PUBLISHED = {"Beauty": (0.0152, 0.0068), "LastFM": (0.0440, 0.0203)}  # S3-Rec paper, HR@10 / NDCG@10


def main() -> None:
    print("dataset | popularity counted on | items masked | HR@10 (pess / opt) | NDCG@10 (pess / opt) | published")
    for name, (hr_pub, ndcg_pub) in PUBLISHED.items():
        data = RecDataModule(DATASETS.get("s3rec")(file=name), sequential=False)
        enc, stage, ev = data.log_, data.stage, data.eval_sets["test"]
        counts = {
            "train": data.spec.item_popularity,
            "train + validation": np.bincount(enc.item[stage < TEST], minlength=enc.n_items).astype(float),
            "all (test included)": np.bincount(enc.item, minlength=enc.n_items).astype(float),
        }
        targets = torch.as_tensor(ev.targets.padded(ev.users))
        rows, items = (torch.as_tensor(x) for x in ev.seen.flat(ev.users))
        for label, popularity in counts.items():
            for masked in (True, False):
                scores = torch.as_tensor(popularity, dtype=torch.float64).repeat(len(ev.users), 1)
                scores[:, 0] = float("-inf")
                if masked:
                    mask_items(scores, rows, items)
                pessimistic = ranking_metrics(target_ranks(scores, targets), [10])
                optimistic_ranks = (scores > scores.gather(1, targets)).sum(1, keepdim=True) + 1
                optimistic = ranking_metrics(optimistic_ranks, [10])
                print(
                    f"{name} | {label} | {'yes' if masked else 'no'} | "
                    f"{pessimistic['hr'].mean():.4f} / {optimistic['hr'].mean():.4f} | "
                    f"{pessimistic['ndcg'].mean():.4f} / {optimistic['ndcg'].mean():.4f} | {hr_pub} / {ndcg_pub}"
                )


if __name__ == "__main__":
    main()
