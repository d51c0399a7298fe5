"""Windows as index tensors into the feature cache, and the compact decoder vocabulary."""
import pyarrow.parquet as pq
import torch

from storyseq.core.errors import StageError


def frame_values(cache, column, folder="data"):
    """A column of frames.parquet in `folder` (tagged_text, reasoning, ...) for each feature-cache row."""
    frames = pq.read_table(f"{folder}/frames.parquet", columns=["story_id", "frame", column]).to_pydict()
    values = dict(zip(zip(frames["story_id"], frames["frame"]), frames[column]))
    return [values[(sid, int(frame))] for sid, frame in zip(cache["story_ids"], cache["frames"])]


def load_windows(path, cache):
    """{split: {"inputs": (W, K) rows, "target": (W,) rows, "story_ids": [...]}} over the cache's rows."""
    row_of = {(sid, int(f)): i for i, (sid, f) in enumerate(zip(cache["story_ids"], cache["frames"]))}
    table = pq.read_table(path).to_pydict()
    splits = {}
    for sid, split, inputs, target in zip(table["story_id"], table["split"], table["inputs"], table["target"]):
        try:
            rows = [row_of[(sid, f)] for f in inputs] + [row_of[(sid, target)]]
        except KeyError as err:
            raise StageError(f"story {sid}: frame {err.args[0][1]} of a window is not in data/features; rerun embed")
        part = splits.setdefault(split, {"inputs": [], "target": [], "story_ids": []})
        part["inputs"].append(rows[:-1])
        part["target"].append(rows[-1])
        part["story_ids"].append(sid)
    return {split: {"inputs": torch.tensor(p["inputs"]), "target": torch.tensor(p["target"]),
                    "story_ids": p["story_ids"]} for split, p in splits.items()}


class Vocabulary:
    """The decoder's generation vocabulary: pad, bos, eos and unk, then the tokenizer ids seen in
    training captions, the most frequent first. A softmax over these ids instead of the tokenizer's
    30k keeps decoding cheap; any other id maps to unk (the copy decoder can still copy it)."""

    pad, bos, eos, unk = 0, 1, 2, 3

    def __init__(self, ids):
        self.ids = torch.as_tensor(ids, dtype=torch.long)
        self._index = torch.full((int(self.ids.max()) + 1,), self.unk, dtype=torch.long)
        self._index[self.ids] = torch.arange(len(self.ids))

    @classmethod
    def from_tokens(cls, token_ids, pad_id, bos_id, eos_id, unk_id, size=None):
        """The specials, then the ids of token_ids by descending count (ties by id), `size` ids in all."""
        specials = [pad_id, bos_id, eos_id, unk_id]
        ids, counts = token_ids.flatten().long().unique(return_counts=True)
        keep = ~torch.isin(ids, torch.tensor(specials))
        ids, counts = ids[keep], counts[keep]
        order = counts.sort(descending=True, stable=True).indices  # unique() sorted ids: ties stay by id
        return cls(specials + ids[order].tolist()[:None if size is None else size - len(specials)])

    def __len__(self):
        return len(self.ids)

    def special_id(self, index):
        """The tokenizer id of a special index (pad, bos, eos, unk)."""
        return int(self.ids[index])

    def encode(self, token_ids):
        """Tokenizer ids -> vocabulary indices (other ids -> unk)."""
        token_ids, index = token_ids.long(), self._index.to(token_ids.device)
        inside = token_ids < len(index)
        return torch.where(inside, index[token_ids.clamp(max=len(index) - 1)], self.unk)

    def decode(self, indices):
        """Vocabulary indices -> tokenizer ids, on the device of `indices`."""
        return self.ids.to(indices.device)[indices]
