"""Compare experiments honestly: group them by their params, train.seed aside; print mean ± sd
over seeds of the model's test scores, and each group minus a reference group with a 95%
interval from a hierarchical bootstrap (seeds resampled within each group, test stories resampled
once for both: paired on story ids). Everything comes from the per-window statistics that
evaluate writes; nothing is scored again. Prints Markdown tables.

    python -m storyseq.compare [--reference train.lambda_contrastive=0] [--resamples 1000] [--rev HEAD]
"""
import argparse

import numpy as np
import yaml

from storyseq.evaluation.bootstrap import percentiles, story_weights
from storyseq.evaluation.report import NAMES, fmt, markdown
from storyseq.evaluation.scoring import read_window_lines, summarise

WINDOWS = "plots/window_scores.jsonl"
SEED = "train.seed"
SCORES = ("bleu", "rouge_l", "meteor", "character_f1", "image_mse", "image_ssim", "placement")


def flat(tree, prefix=""):
    """{'train.seed': 0, ...} from nested params."""
    out = {}
    for key, value in tree.items():
        out.update(flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return out


def experiments(repo=".", rev=None):
    """The commit `rev` (default HEAD), whose committed run counts as one seed of its params, and
    every finished experiment that `dvc exp show` lists on it (not the workspace, nor a queued,
    running or failed one): [{"name", "params" (flat, the seed aside), "seed", "story_ids",
    "stats"}], the per-window statistics read from each run's own commit."""
    import dvc.api

    keys = flat(yaml.safe_load(open(f"{repo}/params.yaml")))
    runs, unfinished = [], 0
    for row in dvc.api.exp_show(repo, revs=rev):
        if row["rev"] == "workspace":
            continue
        if row.get("State") not in (None, "Success"):
            unfinished += 1
            continue
        params = {k: _param(row.get(k, row.get(f"params.yaml:{k}"))) for k in keys}
        story_ids, _, stats = read_window_lines(dvc.api.read(WINDOWS, repo=repo, rev=row["rev"]).splitlines())
        runs.append({"name": row["Experiment"] or row["rev"], "seed": params.pop(SEED), "params": params,
                     "story_ids": story_ids, "stats": stats})
    if unfinished:
        print(f"compare: left out {unfinished} experiments that are queued, running or failed")
    return runs


def _param(value):
    """A param value from `dvc exp show`, which gives booleans as the strings 'True' and 'False'."""
    return {"True": True, "False": False}.get(value, value) if isinstance(value, str) else value


def groups(runs):
    """{label: [runs]}: runs with the same params but the seed, sorted by label; one run per seed
    (the first listed). A label names the params that differ between groups ('all' when none do)."""
    varying = sorted(k for k in runs[0]["params"] if len({str(r["params"][k]) for r in runs}) > 1)
    grouped = {}
    for run in runs:
        label = ", ".join(f"{k}={run['params'][k]}" for k in varying) or "all"
        members = grouped.setdefault(label, [])
        if run["seed"] not in [m["seed"] for m in members]:
            members.append(run)
    return dict(sorted(grouped.items()))


def score(stats, weights=None):
    """The compared scores of one run's statistics (NaN where a score has no window, or a run
    made before the score existed)."""
    scores = summarise(stats, weights)
    return [np.nan if scores.get(k) is None else scores[k] for k in SCORES]


def seed_table(grouped):
    """{label: (n_seeds, means, sds)} per group, over its seeds (sd with n - 1; NaN for one seed)."""
    out = {}
    for label, runs in grouped.items():
        values = np.array([score(r["stats"]) for r in runs])
        sds = values.std(0, ddof=1) if len(runs) > 1 else np.full(len(SCORES), np.nan)
        out[label] = (len(runs), values.mean(0), sds)
    return out


def paired_differences(grouped, reference, n_resamples=1000, seed=0, confidence=0.95):
    """{label: [(difference, low, high) per score]}: each group's mean over seeds minus the
    reference group's, and its bootstrap interval. All runs must share the same test windows."""
    runs = [r for members in grouped.values() for r in members]
    for r in runs:
        if r["story_ids"] != runs[0]["story_ids"]:
            raise ValueError(f"experiment {r['name']} was scored on other test windows than {runs[0]['name']}")
    weights = story_weights(runs[0]["story_ids"], n_resamples, seed)
    rng = np.random.default_rng(seed)
    observed, draws = {}, {}
    for label, members in grouped.items():
        per_run = np.array([[score(r["stats"], w) for w in weights] for r in members])  # (seeds, R, scores)
        picks = rng.integers(0, len(members), size=(n_resamples, len(members)))
        draws[label] = per_run[picks, np.arange(n_resamples)[:, None]].mean(1)  # (R, scores)
        observed[label] = np.mean([score(r["stats"]) for r in members], 0)
    return {label: [(observed[label][i] - observed[reference][i],
                     *percentiles(draws[label][:, i] - draws[reference][:, i], confidence)) for i in range(len(SCORES))]
            for label in grouped if label != reference}


def find_group(grouped, reference):
    """The label of the group that `reference` ('key=value, ...') names. Values compare as YAML
    values, so train.lambda_contrastive=0 names the group dvc shows as ...=0.0."""
    wanted = {key.strip(): yaml.safe_load(value) for key, _, value in
              (part.partition("=") for part in reference.split(","))}
    for label, runs in grouped.items():
        if label == reference or all(key in runs[0]["params"] and runs[0]["params"][key] == value
                                     for key, value in wanted.items()):
            return label
    raise ValueError(f"no group {reference!r}; groups: {'; '.join(grouped)}")


def report(grouped, reference=None, n_resamples=1000, seed=0):
    """The Markdown tables: mean ± sd per group, then each group minus the reference (default: the
    first). A score that no run has (runs made before it existed, or another source) is left out."""
    reference = find_group(grouped, reference) if reference else next(iter(grouped))
    table = seed_table(grouped)
    shown = [i for i in range(len(SCORES)) if not all(np.isnan(means[i]) for _, means, _ in table.values())]
    header = [NAMES[SCORES[i]] for i in shown]
    rows = [[label, n, *(fmt(SCORES[i], means[i]) + ("" if np.isnan(sds[i]) else f" ± {fmt(SCORES[i], sds[i])}")
                         for i in shown)]
            for label, (n, means, sds) in table.items()]
    text = markdown(["params", "seeds", *header], rows) + "\n\n(mean ± sd over seeds)"
    if len(grouped) > 1:
        stories = len(set(next(iter(grouped.values()))[0]["story_ids"]))
        rows = [[f"{label} minus {reference}", *(f"{fmt(SCORES[i], diffs[i][0], signed=True)} "
                                                 f"({fmt(SCORES[i], diffs[i][1])} to {fmt(SCORES[i], diffs[i][2])})"
                                                 for i in shown)]
                for label, diffs in paired_differences(grouped, reference, n_resamples, seed).items()]
        text += "\n\n" + markdown(["difference", *header], rows) + (
            f"\n\n(difference of the means over seeds; 95% interval from {n_resamples} bootstrap resamples of the"
            f" seeds within each group and of the {stories} test stories, paired)")
    return text


def seed_sd_bleu(repo="."):
    """The standard deviation of test BLEU over the seeds of the experiments in `repo`, which must
    differ only in train.seed."""
    grouped = groups(experiments(repo))
    if len(grouped) != 1:
        raise ValueError(f"seed_sd_bleu: the experiments differ in more than the seed: {', '.join(grouped)}")
    return float(seed_table(grouped)["all"][2][SCORES.index("bleu")])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", help="the group the others are compared with, e.g. train.lambda_contrastive=0")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    parser.add_argument("--rev", help="the commit whose run and experiments are compared (default: HEAD)")
    args = parser.parse_args()
    runs = experiments(rev=args.rev)
    if not runs:
        raise SystemExit("compare: no experiments: run some with `dvc exp run` first")
    try:
        print(report(groups(runs), args.reference, args.resamples, args.seed))
    except ValueError as error:
        raise SystemExit(f"compare: {error}") from None


if __name__ == "__main__":
    main()
