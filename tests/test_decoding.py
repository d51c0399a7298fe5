"""The decoding rules: where a caption ends (greedy's argmax or the model's median length) and
the ban on repeated n-grams, checked on a decoder whose next-token distribution is fixed."""
import math

import pytest
import torch

from storyseq.evaluation.decoding import generate
from storyseq.model.dataset import Vocabulary

PAD, BOS, EOS, UNK, A, B = 0, 101, 102, 100, 1000, 1001
VOCAB = Vocabulary([PAD, BOS, EOS, UNK, A, B])


class Fixed:
    """A decoder that gives every step the same distribution: the end with p_end, A and B with the rest."""

    def __init__(self, p_end, p_a):
        self.log_probs = torch.tensor([0.0, 0.0, p_end, 0.0, p_a, 1 - p_end - p_a]).log()

    def start(self, context, source, vocab):
        return {"h": torch.zeros(1, len(context), 1), "extra": source.new_zeros(0)}

    def step(self, state, tokens, vocab):
        return self.log_probs.expand(tokens.shape[0], tokens.shape[1], -1).clone(), state


def run(decoder, **rules):
    return generate(decoder, torch.zeros(2, 1), torch.zeros(2, 1, 1, dtype=torch.long), VOCAB, 12, **rules)


def test_greedy_argmax_never_ends_where_the_end_is_never_the_likeliest_token():
    assert run(Fixed(0.25, 0.45)) == [[A] * 12] * 2


@pytest.mark.parametrize("p_end", [0.1, 0.25, 0.4])
def test_median_ends_where_the_probability_of_having_ended_passes_one_half(p_end):
    steps = math.ceil(math.log(0.5) / math.log(1 - p_end))  # first n with (1 - p_end)^n < 1/2
    for beam_size in (1, 3):
        assert run(Fixed(p_end, 0.5), stop="median", beam_size=beam_size) == [[A] * (steps - 1)] * 2


def test_no_repeated_ngram_is_generated():
    # A A; then A A again is barred, so B; then B A; then A A and A B would both repeat: the end
    assert run(Fixed(0.25, 0.45), no_repeat_ngram=2) == [[A, A, B, A]] * 2
    for seq in run(Fixed(0.05, 0.6), no_repeat_ngram=3, beam_size=3):
        grams = [tuple(seq[i:i + 3]) for i in range(len(seq) - 2)]
        assert len(grams) == len(set(grams)) and len(seq) > 3
