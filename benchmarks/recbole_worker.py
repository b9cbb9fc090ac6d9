"""Train and evaluate one RecBole 1.2.1 model for a few epochs; print one JSON line of timings and metrics.

Runs in RecBole's own virtual environment (made by ``recbole_side.py``), never in recframe's, with its
working directory in scratch space (RecBole writes ``log_tensorboard/`` there):
``benchmarks/.recbole-venv/bin/python benchmarks/recbole_worker.py spec.json``.

``spec.json`` holds ``model`` (``BPR``, ``GRU4Rec``, ``SASRec``), ``dataset`` (the atomic-file stem under
``config['data_path']``), ``config`` (RecBole's config dict), ``eval_repeats`` and ``anomaly_detection``.
The steps are those of RecBole's ``run_recbole`` quick start, minus the checkpointing:
``fit(saved=False)`` and ``evaluate(load_best_model=False)`` write and read no checkpoint, so torch
2.13's ``weights_only=True`` default of ``torch.load`` (which RecBole's checkpoint files, holding its
``Config`` object, would trip) never applies and nothing is patched. Validation never runs
(``valid_data=None``): epochs and evaluation are timed apart.

NOTE: importing ``recbole.model`` runs ``torch.autograd.set_detect_anomaly(True)`` at the top of
``recbole/model/sequential_recommender/sine.py``, for the whole process and so for every model: autograd
then records a stack trace per operation (GRU4Rec on ML-100K took 185 s per epoch instead of 80 s). That is
a debugging switch, not RecBole's training cost, so after the import this worker sets anomaly
detection to ``spec['anomaly_detection']`` (``run.py`` passes False unless ``--recbole-as-shipped``) and
reports both states. Nothing in site-packages is changed.

Measured: seconds of every ``trainer._train_epoch`` call (wrapped with a timer on this one trainer
object), seconds of each full-catalogue test pass, peak RSS of this process (``workers.peak_rss_mib``),
the test metrics, and the work of one epoch (examples, batches, sequence positions encoded).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path

from workers import peak_rss_mib


def versions() -> dict[str, str]:
    names = ("recbole", "torch", "numpy", "scipy", "pandas", "scikit-learn", "tensorboard")
    return {name: metadata.version(name) for name in names} | {"python": sys.version.split()[0]}


def run(spec: dict) -> dict:
    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import ModelType, get_model, get_trainer, init_seed

    config = Config(model=spec["model"], dataset=spec["dataset"], config_dict=spec["config"])
    cuda = config["device"].type == "cuda"

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    init_seed(config["seed"], config["reproducibility"])
    start = time.perf_counter()
    dataset = create_dataset(config)
    data = {"users": dataset.user_num - 1, "items": dataset.item_num - 1, "interactions": len(dataset)}
    train_data, _valid_data, test_data = data_preparation(config, dataset)
    prepare_s = time.perf_counter() - start
    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])  # as run_recbole does
    model_class = get_model(config["model"])  # imports recbole.model.*, including sine.py (see NOTE above)
    anomaly_on_import = torch.is_anomaly_enabled()
    torch.autograd.set_detect_anomaly(spec["anomaly_detection"])
    model = model_class(config, train_data._dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)

    epoch_seconds: list[float] = []
    train_epoch = trainer._train_epoch

    def timed_epoch(*args, **kwargs):
        sync()
        begin = time.perf_counter()
        out = train_epoch(*args, **kwargs)
        sync()
        epoch_seconds.append(time.perf_counter() - begin)
        return out

    trainer._train_epoch = timed_epoch
    trainer.fit(train_data, valid_data=None, verbose=False, saved=False, show_progress=False)

    eval_seconds, result = [], {}
    for _ in range(spec["eval_repeats"]):
        sync()
        begin = time.perf_counter()
        result = trainer.evaluate(test_data, load_best_model=False, show_progress=False)
        sync()
        eval_seconds.append(time.perf_counter() - begin)

    train = train_data._dataset
    sequential = config["MODEL_TYPE"] == ModelType.SEQUENTIAL
    examples = len(train)
    negatives = (config["train_neg_sample_args"] or {}).get("sample_num", 0)
    work = {
        "examples": examples,
        "batches": len(train_data),
        "labelled_positions": examples,  # one loss term (target) per example
        "encoded_positions": int(train.inter_feat[train.item_list_length_field].sum()) if sequential else examples,
        "negatives_per_example": negatives if isinstance(negatives, int) else 0,  # RecBole says "none" for CE
    }
    return {
        "framework": "recbole",
        "epoch_s": epoch_seconds,
        "epoch_s_median": statistics.median(epoch_seconds),
        "eval_s": eval_seconds,
        "eval_s_median": statistics.median(eval_seconds),
        "prepare_s": prepare_s,
        "metrics": {key: float(value) for key, value in result.items()},
        "work": work,
        "data": data,
        "eval_users": len(test_data.user_df) if hasattr(test_data, "user_df") else len(test_data._dataset),
        "device": str(config["device"]),
        "torch_threads": torch.get_num_threads(),
        "anomaly_detection_after_import": anomaly_on_import,
        "anomaly_detection": torch.is_anomaly_enabled(),
        "versions": versions(),
        **peak_rss_mib(),
    }


def main() -> None:
    if len(sys.argv) == 2 and sys.argv[1] == "--versions":
        print(json.dumps(versions()))
        return
    if len(sys.argv) != 2:
        raise SystemExit(f"usage: {sys.argv[0]} SPEC.json | --versions")
    spec = json.loads(Path(sys.argv[1]).read_text())
    sys.argv = sys.argv[:1]  # RecBole's Config reads --key=value options from the command line
    print(json.dumps(run(spec)))


if __name__ == "__main__":
    main()
