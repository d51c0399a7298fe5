"""params.yaml: loading and validation. Every key is checked at stage start, and a bad
value stops the stage with a one-line error that names the key."""
import yaml

from storyseq.core.errors import StageError

DEVICES = ("auto", "cpu", "cuda")


def _choice(*allowed):
    return str, lambda v: v in allowed, f"one of {', '.join(allowed)}"


def _int(lo, hi=None):
    return int, lambda v: v >= lo and (hi is None or v <= hi), f"an integer >= {lo}" + (f" and <= {hi}" if hi else "")


def _float(lo, hi, open_lo=False):
    ok = (lambda v: lo < v <= hi) if open_lo else (lambda v: lo <= v <= hi)
    return float, ok, f"a number in {'(' if open_lo else '['}{lo}, {hi}]"


_AUTO_OR_COUNT = ((str, int), lambda v: v == "auto" or (type(v) is int and v >= 1), "auto or an integer >= 1")
_TEXT = (str, lambda v: bool(v.strip()), "a non-empty string")

SCHEMA = {
    "data.source": _choice("synthetic", "hub", "parquet"),
    "data.path": _TEXT,
    "data.hub_name": _TEXT,
    "data.revision": _TEXT,
    "data.split": _TEXT,
    "data.test_split": _TEXT,
    "data.n_stories": _int(1),
    "data.n_test_stories": _int(1),
    "data.seed": _int(0),
    "window.k": _int(1),
    "window.stride": _int(1),
    "window.val_fraction": _float(0.0, 1.0, open_lo=True),
    "window.test_fraction": _float(0.0, 1.0, open_lo=True),
    "window.seed": _int(0),
    "embed.image_encoder": _choice("efficientnet_lite0", "resnet18", "resnet50", "test_tiny_cnn"),
    "embed.text_encoder": _choice("all-MiniLM-L6-v2", "distilbert-base-uncased", "test_tiny_bert"),
    "embed.image_size": _int(32, 1024),
    "embed.target_size": (int, lambda v: v in (16, 32, 64, 128), "one of 16, 32, 64, 128"),
    "embed.max_tokens": _int(8, 512),
    "embed.batch_size": _AUTO_OR_COUNT,
    "embed.device": _choice(*DEVICES),
    "embed.runtime": _choice("auto", "torch", "onnxruntime"),
    "embed.precision": _choice("fp32", "tf32", "bf16"),
    "embed.decode_workers": _AUTO_OR_COUNT,
    "model.embed_dim": _int(8),
    "model.hidden_dim": _int(8),
    "model.dropout": _float(0.0, 0.9),
    "model.image_channels": _int(8),
    "model.image_decoder": _choice("frames", "context"),
    "model.frame_channels": (int, lambda v: v >= 4 and v % 4 == 0, "a multiple of 4"),
    "model.text_decoder": _choice("copy", "gru"),
    "model.max_vocab_size": _int(5),
    "model.token_dim": _int(8),
    "model.image_inputs": (bool, lambda v: True, "true or false"),
    "train.epochs": _int(1),
    "train.batch_size": _int(2),
    "train.lr": _float(0.0, 1.0, open_lo=True),
    "train.weight_decay": _float(0.0, 1.0),
    "train.lambda_contrastive": _float(0.0, 100.0),
    "train.image_weight": _float(0.0, 1000.0),
    "train.temperature": _float(0.0, 10.0, open_lo=True),
    "train.seed": _int(0),
    "train.schedule": _choice("cosine", "constant"),
    "train.clip_norm": _float(0.0, 1000.0),
    "train.ema_decay": _float(0.0, 0.9999),
    "train.checkpoint": _choice("last", "best_val"),
    "train.device": _choice(*DEVICES),
    "evaluate.beam_size": _int(1, 32),
    "evaluate.max_new_tokens": _int(1, 512),
    "evaluate.no_repeat_ngram": (int, lambda v: v == 0 or 2 <= v <= 32, "0 or an integer in [2, 32]"),
    "evaluate.stop": _choice("median", "argmax"),
    "evaluate.device": _choice(*DEVICES),
    "evaluate.bootstrap_samples": _int(100, 100000),
    "evaluate.bootstrap_seed": _int(0),
    "evaluate.coco": (bool, lambda v: True, "true or false"),
    "plot.n_examples": _int(1, 32),
    "plot.device": _choice(*DEVICES),
}


class Params(dict):
    """Nested params with attribute access by section: p.train['lr']."""

    def __getattr__(self, section):
        try:
            return self[section]
        except KeyError:
            raise AttributeError(section) from None


def validate(params, keys):
    """Check each dotted key of `keys` against SCHEMA; raise StageError naming the first bad key."""
    for key in keys:
        section, name = key.split(".")
        if name not in params.get(section, {}):
            raise StageError(f"params.yaml: missing key {key}")
        value = params[section][name]
        kind, ok, expect = SCHEMA[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = params[section][name] = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool) or not ok(value):
            raise StageError(f"params.yaml: {key} must be {expect}, got {value!r}")
    if "window.test_fraction" in keys and params["window"]["val_fraction"] + params["window"]["test_fraction"] >= 1:
        raise StageError("params.yaml: window.val_fraction + window.test_fraction must be < 1 to leave training stories")
    if "data.test_split" in keys and "data.split" in keys and params["data"]["split"] == params["data"]["test_split"]:
        raise StageError(f"params.yaml: data.test_split must be different from data.split, got {params['data']['split']!r} for both")


def load(*sections, path="params.yaml"):
    """Load params.yaml and validate every key of the given sections."""
    with open(path) as f:
        params = Params(yaml.safe_load(f))
    validate(params, [k for k in SCHEMA if k.split(".")[0] in sections])
    return params
