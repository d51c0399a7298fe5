"""The training log, kept by dvclive in dvclive/: one step per epoch, written as the epoch ends
(so `dvc exp show` and VS Code's DVC extension follow a run live), with no timestamps and no
system monitoring (the same params give the same bytes), and no dvc.yaml of its own."""
import csv
from pathlib import Path

FOLDER = "dvclive"


def open_log():
    """A dvclive logger for the train stage; dvc.yaml stays the hand-written source of truth.
    (Imported here, so that reading the log needs no dvclive: a stock GPU image lacks it.)"""
    from dvclive import Live
    return Live(dir=FOLDER, dvcyaml=False, save_dvc_exp=False, monitor_system=False)


def log_epoch(live, row):
    """Log one history row ({"epoch", "train_image", ..., "val_total", ...}) as step `epoch`:
    train_image becomes the metric train/image."""
    live.step = row["epoch"]
    for key, value in row.items():
        if key != "epoch":
            live.log_metric(key.replace("_", "/", 1), value)
    live.make_summary()


def read_history(folder=FOLDER):
    """The history rows back from dvclive's per-metric TSV files."""
    rows = {}
    for path in sorted(Path(folder, "plots", "metrics").glob("*/*.tsv")):
        split, name = path.parent.name, path.stem
        with open(path) as f:
            for record in csv.DictReader(f, delimiter="\t"):
                epoch = int(record["step"])
                rows.setdefault(epoch, {"epoch": epoch})[f"{split}_{name}"] = float(record[name])
    return [rows[epoch] for epoch in sorted(rows)]
