"""The cold-item protocol: a random share of the catalogue is held out of training entirely.

Every interaction with a cold item is removed from the training and validation stages and from the
histories evaluation reads; only the cold items' **test** interactions stay, as targets. A model
therefore meets a cold item for the first time when it ranks the test catalogue, and can only score
it through its side information (text, attributes, vectors): the item encoder zeroes a cold item's
ID part, and the module leaves cold items out of the training softmax (a new item does not exist
while the model trains). Test metrics are reported for cold and warm targets separately
(``test/cold/ndcg@10``, ``test/warm/ndcg@10``).
"""

from __future__ import annotations

import numpy as np

from recframe.data.interactions import EncodedLog
from recframe.data.splits import TEST

REMOVED = -1  # stage code of the rows of cold items outside the test stage


def hold_out_items(log: EncodedLog, stage: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Pick ``share`` of the items uniformly at random (seeded) and remove them outside the test stage.

    Returns:
        ``(stage, cold, report)``: the stage codes with ``REMOVED`` rows, a bool ``[n_items]`` mask
        of cold items (PAD False) and a one-line report of what was removed.
    """
    if not 0.0 < share < 1.0:
        raise ValueError(f"data.cold_items must be a share in (0, 1), got {share}")
    n_real = log.n_items - 1
    n_cold = max(1, round(share * n_real))
    cold = np.zeros(log.n_items, dtype=bool)
    cold[1 + np.random.default_rng(seed).choice(n_real, n_cold, replace=False)] = True
    on_cold = cold[log.item]
    stage = np.where(on_cold & (stage != TEST), REMOVED, stage)
    targets = on_cold & (stage == TEST)
    if not targets.any():
        raise ValueError(
            f"cold_items={share}: none of the {n_cold:,} cold items has a test interaction in {log.name}; "
            "raise the share or change data.cold_seed"
        )
    report = (
        f"cold items: {n_cold:,} of {n_real:,} items (share {share:g}, seed {seed}) held out of training; "
        f"{int((stage == REMOVED).sum()):,} of their train/val interactions removed, "
        f"{int(targets.sum()):,} test interactions kept as cold targets"
    )
    return stage, cold, report
