"""``CTCDecoder`` on its own (Amaranth simulator): label beats equal ``spec.ctc``'s stream, every reserved
place is used or refunded, and the input never waits."""

from __future__ import annotations

import numpy as np
import pytest

from rnnhw.rtl.ctc import CTCDecoder
from rnnhw.spec.ctc import MOST_BEATS_PER_STEP, greedy_decode, stream_frames
from rnnhw.spec.fixed import FixedFormat

from .hdl import run_testbench

FORMAT = FixedFormat(6, 3)


def run(logits, lengths, blank, gap):
    """Feed every sequence's steps (one logit per cycle, ``gap`` idle cycles between vectors); returns the
    frames of label beats and the total of places used and refunded."""
    classes = logits.shape[-1]
    dut = CTCDecoder(classes=classes, blank=blank, logit_format=FORMAT)
    frames, current, places = [], [], [0]

    async def testbench(ctx):
        def collect():
            if ctx.get(dut.labels.valid):
                current.append(ctx.get(dut.labels.p.data))
                if ctx.get(dut.labels.p.last):
                    frames.append(list(current))
                    current.clear()
                places[0] += 1
            places[0] += ctx.get(dut.refund.count)

        for n, length in enumerate(lengths):
            for t in range(length):
                for c in range(classes):
                    ctx.set(dut.logits.valid, 1)
                    ctx.set(dut.logits.p, {"data": int(logits[n, t, c]), "last": int(c == classes - 1),
                                           "end": int(t == length - 1)})
                    collect()
                    await ctx.tick()
                ctx.set(dut.logits.valid, 0)
                for _ in range(gap):
                    collect()
                    await ctx.tick()

    run_testbench(dut, testbench)
    return frames, places[0]


@pytest.mark.parametrize(("classes", "blank", "gap", "seed"), [(4, 0, 2, 0), (3, 2, 3, 1), (1, 0, 2, 2), (6, 5, 5, 3)])
def test_decoder_streams_the_specified_labels(classes, blank, gap, seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 7, size=12)
    lengths[:3] = 1
    # Few distinct values: ties (lowest index wins), repeats and blanks are frequent.
    logits = rng.integers(-2, 2, size=(12, 6, classes)) * 4
    logits[0] = logits[1] = 0  # all tied: class 0 (a label, or the blank)
    frames, places = run(logits, lengths, blank, gap)
    assert frames == stream_frames(greedy_decode(logits, lengths, blank))
    assert places == MOST_BEATS_PER_STEP * int(lengths.sum())
