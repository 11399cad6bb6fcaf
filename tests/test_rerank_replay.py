"""bench/rerank_sweep.py replays the pipeline's choices from recorded readings;
its "not found" must be the pipeline's, or its F1 drifts from `newsqa eval`'s
(it did: half a point, from replaying the has-answer score for a reader
calibrated on has-answer + span)."""

from __future__ import annotations

import itertools
import sys

import pytest

from conftest import ROOT
from retrieval.reader.answering import Reading, answerable
from retrieval.reader.decode import SpanCandidate
from retrieval.reader.model import PassageReading

sys.path.insert(0, str(ROOT / "bench"))
import rerank_sweep  # noqa: E402


@pytest.mark.parametrize("score", ["has", "span"])
def test_replayed_not_found_score_is_the_pipelines(score):
    grid = [-4.0, -1.0, 0.5, 3.0]
    # The chosen span (slp) may be the re-scorer's, less likely than the reader's best (top).
    for has_best, has_other, slp in itertools.product(grid, grid, [-6.0, -2.0, -0.1]):
        top = slp / 2
        span = SpanCandidate(0, 0, 2, 0.0, slp, has_best)
        readings = [Reading(None, PassageReading(0, has_best, span, top), 0.0, "ab"),  # type: ignore[arg-type]
                    Reading(None, PassageReading(1, has_other, None), 0.0, "cd")]  # type: ignore[arg-type]
        rows = [{"has": has_best, "span": "ab", "span_logprob": slp, "top_logprob": top},
                {"has": has_other, "span": "", "span_logprob": -99.0, "top_logprob": -30.0}]
        assert rerank_sweep.answerable(rows, rows[0], score) == pytest.approx(
            answerable(readings, readings[0], score))


def test_replay_declines_by_the_readers_own_score():
    # A confident chunk with an unlikely span: answered when judged by the has-answer head alone,
    # declined when the reader is calibrated on has-answer + span (what newsqa eval does).
    rows = [{"id": "q", "n": 0, "context": "A", "answers": ["x"],
             "hits": [{"article": "A", "score": 1.0, "has": 2.0, "span": "x", "span_logprob": -8.0,
                       "f1": 100.0, "em": 100.0}]}]
    assert rerank_sweep.simulate(rows, 1, 15.0, "log", 0.05, "has")[1] == 100.0
    assert rerank_sweep.simulate(rows, 1, 15.0, "log", 0.05, "span")[1] == 0.0


def test_the_rescorers_choice_of_words_does_not_decide_whether_to_answer():
    # The re-scorer picked a short, less likely span (log-prob -3) where the reader's own best was
    # the whole clause (-1): whether the chunk answers is judged by the reader's best.
    span = SpanCandidate(0, 0, 2, 0.0, -3.0, 1.0)
    picked = [Reading(None, PassageReading(0, 1.0, span, -1.0), 0.0, "ab")]  # type: ignore[arg-type]
    own = [Reading(None, PassageReading(0, 1.0, SpanCandidate(0, 0, 4, 0.0, -1.0, 1.0), -1.0), 0.0, "ab")]  # type: ignore[arg-type]
    assert answerable(picked, picked[0], "span") == pytest.approx(answerable(own, own[0], "span"))
    assert answerable(picked, picked[0], "span") > 0.4
