"""Groups measured on whole projects: dvc's own cost (`noop`, `rerun`), the seed spread
(`seed_sd`), the frames decoder's cost (`image_decoder`) and memory at 4x the stories (`scaling`)."""
import tempfile
import time
from pathlib import Path

from measure import DEFAULTS, timed, timed_in_turn
from train_cost import train_flops

from storyseq import compare
from storyseq.fixtures.project import SMALL, commit, make_project, ran_stages, run, update_params


def noop_vs_trivial(ours, trivial, rounds=7):
    """`dvc repro` with nothing to do, in `ours` over in `trivial`, after a cold run of each: the
    minimum of `rounds` timings of each, taken in turn, so that a change of load on a shared
    machine hits both sides alike (timed one side after the other, the ratio ranged 1.1-1.85)."""
    for folder in (ours, trivial):
        run(["dvc", "repro"], folder)
    ours_s, trivial_s = timed_in_turn([lambda _, f=folder: run(["dvc", "repro"], f) for folder in (ours, trivial)],
                                      rounds)
    return min(ours_s) / min(trivial_s)


def rerun_overhead(folder, stages=("train", "evaluate", "plot")):
    """The cold `dvc repro` of the defaults (repro_default_s); the train stage's FLOP rate; and
    `dvc repro` after a lambda change vs the same stages' commands run directly on the same
    change (`python -m stages.<name>`, process start included): dvc's own cost on a rerun."""
    cold = timed(lambda: run(["dvc", "repro"], folder))
    flops = train_flops(folder)
    update_params(folder, {"train": {"lambda_contrastive": 0.25}})
    direct = sum(timed(lambda s=s: run(["python", "-m", f"stages.{s}"], folder)) for s in stages)
    start = time.perf_counter()
    ran = ran_stages(run(["dvc", "repro"], folder).stdout)
    rerun = time.perf_counter() - start
    assert ran == set(stages), f"a lambda change reran {sorted(ran)}"
    return {"rerun_overhead": rerun / direct, "rerun_dvc_s": rerun, "rerun_direct_s": direct, "repro_default_s": cold,
            **flops}


def seed_sd_bleu(folder, seeds=5):
    """The standard deviation of test BLEU over `seeds` training seeds at default params, through
    storyseq.compare: one `dvc exp run` per seed."""
    run(["dvc", "repro"], folder)
    commit(folder, "baseline")
    for seed in range(seeds):
        run(["dvc", "exp", "run", "-S", f"train.seed={seed}"], folder)
    return {"seed_sd_bleu": compare.seed_sd_bleu(str(folder))}


def image_decoder_cost(folder, rounds=2):
    """The train stage's wall time (process start included) with the frames image decoder vs the
    context decoder, on the same project, timed in turn; the fastest of `rounds` each."""
    run(["dvc", "repro", "embed"], folder)

    def train_with(decoder):
        def call(_):
            update_params(folder, {"model": {"image_decoder": decoder}})
            run(["python", "-m", "stages.train"], folder)
        return call

    frames_s, context_s = (min(t) for t in timed_in_turn([train_with("frames"), train_with("context")], rounds))
    return {"train_frames_vs_context": frames_s / context_s, "train_frames_s": frames_s, "train_context_s": context_s}


def trivial_project(folder):
    """A git + dvc repository holding a two-stage pipeline."""
    folder = Path(folder)
    (folder / "dvc.yaml").write_text("stages:\n  a:\n    cmd: echo a > a.txt\n    outs: [a.txt]\n"
                                     "  b:\n    cmd: cat a.txt > b.txt\n    deps: [a.txt]\n    outs: [b.txt]\n")
    run(["git", "init", "-q"], folder)
    run(["dvc", "init", "-q"], folder)
    return folder


def peak_rss_and_time(folder, n_stories):
    """Peak RSS (KiB) of fetch, window and embed at n_stories, and their total wall time."""
    update_params(folder, {"data": {"n_stories": n_stories}})
    rss, wall = {}, 0.0
    for stage in ("fetch", "window", "embed"):
        start = time.perf_counter()
        out = run(["/usr/bin/time", "-f", "%M", "python", "-m", f"stages.{stage}"], folder)
        wall += time.perf_counter() - start
        rss[stage] = int(out.stderr.strip().splitlines()[-1])
    return rss, wall


def in_project(measure, changes):
    """measure(a fresh project with params `changes`), in a temporary folder."""
    with tempfile.TemporaryDirectory() as folder:
        return measure(make_project(folder, changes))


def noop():
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        return {"noop_vs_trivial": noop_vs_trivial(make_project(a, SMALL), trivial_project(b))}


def scaling():
    with tempfile.TemporaryDirectory() as c:
        folder, n = make_project(c, {}), DEFAULTS.data["n_stories"]
        rss_1, t_1 = peak_rss_and_time(folder, n)
        rss_4, t_4 = peak_rss_and_time(folder, 4 * n)
    return {**{f"rss_4x_{s}": rss_4[s] / rss_1[s] for s in rss_1}, "time_4x": t_4 / t_1,
            **{f"peak_rss_mib_4x_{s}": rss_4[s] / 1024 for s in rss_4}}

