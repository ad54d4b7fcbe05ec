"""The runtime's greedy loop on handcrafted decoder graphs, so the expected tokens are exact."""
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from runtime.manifest import Normalization, RecognizerSpec
from runtime.recognizer import greedy_decode
from tiny_models import C, CHARSET, END, HD, L, PEAK, PEAK_PROB, START, chain_decoder, chain_for, script_decoder

NORM = Normalization(1 / 255, (0.5,) * 3, (0.5,) * 3)


def spec(max_length: int = 8) -> RecognizerSpec:
    return RecognizerSpec(
        encoder_path=Path("enc.onnx"), encoder_sha256="", decoder_path=Path("dec.onnx"), decoder_sha256="",
        encoder_inputs=("images",), encoder_outputs=("features", "keys", "hidden", "plate"),
        decoder_inputs=("token", "hidden", "features", "keys"), decoder_outputs=("logits", "next_hidden", "attention"),
        height=48, width=144, norm=NORM, charset=CHARSET, end=END, start=START, max_length=max_length, crop_margins=(0.03,),
        check_score=0.98, check_confidence=0.32, check_low_score=0.4, check_low_confidence=0.7, plate_score=0.5,
    )


class CountingSession:
    """Wraps an ORT session to count decoder steps and record the fed tokens."""

    def __init__(self, model) -> None:
        self.session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        self.calls = 0
        self.tokens: list[list[int]] = []

    def run(self, names, feeds):
        self.calls += 1
        self.tokens.append(feeds["token"].tolist())
        assert feeds["token"].dtype == np.int64
        return self.session.run(names, feeds)


def inputs(n: int, script_ids: list[int] | None = None):
    hidden = np.zeros((n, HD), np.float32)
    if script_ids is not None:
        hidden[:, 1] = script_ids
    return np.zeros((n, L, C), np.float32), np.zeros((n, L, C), np.float32), hidden, np.linspace(0, 1, n, dtype=np.float32)


def ids(text: str) -> list[int]:
    return [CHARSET.index(c) for c in text]


def test_chain_reads_text_and_stops_at_end():
    dec = CountingSession(chain_decoder(chain_for("ABC1D23")))
    (reading,) = greedy_decode(dec, *inputs(1), spec())
    assert reading.text == "ABC1D23"
    assert reading.char_confidences == pytest.approx([PEAK_PROB] * 7)
    assert reading.confidence == pytest.approx(PEAK_PROB ** 7)
    assert dec.calls == 8  # 7 characters + the end step
    assert dec.tokens[0] == [START]
    assert [t[0] for t in dec.tokens[1:]] == ids("ABC1D23")  # the argmax is fed back


def test_max_length_stops_a_plate_that_never_ends():
    dec = CountingSession(chain_decoder({START: ids("A")[0], ids("A")[0]: ids("B")[0], ids("B")[0]: ids("A")[0]}))
    (reading,) = greedy_decode(dec, *inputs(1), spec(max_length=8))
    assert reading.text == "ABABABAB"
    assert dec.calls == 8  # the 9th step could only finish the crop, so it is skipped

    dec = CountingSession(chain_decoder({START: ids("A")[0], ids("A")[0]: ids("B")[0], ids("B")[0]: ids("A")[0]}))
    (reading,) = greedy_decode(dec, *inputs(1), spec(max_length=3))
    assert reading.text == "ABA" and dec.calls == 3


def test_batch_each_crop_its_own_text_and_early_stop():
    scripts = [ids("AB") + [END], ids("XYZ1234") + [END], [END]]
    dec = CountingSession(script_decoder(scripts + [ids("QQQQQQQQQQ")], steps=10))
    readings = greedy_decode(dec, *inputs(3, [0, 1, 2]), spec())
    assert [r.text for r in readings] == ["AB", "XYZ1234", ""]
    assert dec.calls == 8  # stops once the longest (7 chars + end) is finished, not max_length + 1
    assert readings[2].confidence == 0.0 and readings[2].char_confidences == ()


def test_finished_crop_gets_no_more_characters():
    # script 0 ends at step 1 but would emit characters afterwards: they must be ignored
    scripts = [ids("A") + [END] + ids("BCD"), ids("12345") + [END]]
    dec = CountingSession(script_decoder(scripts, steps=10))
    readings = greedy_decode(dec, *inputs(2, [0, 1]), spec())
    assert [r.text for r in readings] == ["A", "12345"]
    assert dec.calls == 6


def test_all_end_immediately_runs_one_step():
    dec = CountingSession(script_decoder([[END]], steps=4))
    readings = greedy_decode(dec, *inputs(4, [0, 0, 0, 0]), spec())
    assert [r.text for r in readings] == [""] * 4 and dec.calls == 1


def test_views_of_a_plate_are_decoded_in_lockstep_on_their_mean():
    # plate 0: three views, the third reads C where the others read B and would go on with D;
    # plate 1: three views that agree. The mean's argmax is each plate's character, fed to all its views.
    scripts = [ids("AB") + [END], ids("ABD") + [END], ids("AC") + [END], ids("7") + [END]]
    dec = CountingSession(script_decoder(scripts, steps=10))
    readings = greedy_decode(dec, *inputs(6, [0, 1, 2, 3, 3, 3]), spec(), views=3)
    assert [r.text for r in readings] == ["AB", "7"]
    assert [r.plate_score for r in readings] == pytest.approx([0.2, 0.8])  # each plate's views' mean
    off = 1.0 / (np.exp(PEAK) + END)  # a view's probability for another view's peak
    assert readings[0].char_confidences == pytest.approx([PEAK_PROB, (2 * PEAK_PROB + off) / 3])
    assert readings[1].char_confidences == pytest.approx([PEAK_PROB])
    assert dec.tokens[0] == [START] * 6
    assert dec.tokens[1] == ids("AAA") + ids("777")
    assert dec.tokens[2] == ids("BBB") + [END] * 3  # plate 1 has ended; two of plate 0's views end it next
    assert dec.calls == 3


def test_recognizer_takes_whole_plates_of_views(tiny_reader):
    crops = [np.zeros((48, 144, 3), np.uint8)] * 4
    assert [r.text for r in tiny_reader.recognizer(crops, views=2)] == ["ABC1D23"] * 2
    with pytest.raises(ValueError, match="whole plates of 3 views"):
        tiny_reader.recognizer(crops, views=3)


def test_recognizer_end_to_end_on_tiny_models(tiny_reader):
    crops = [np.zeros((48, 144, 3), np.uint8)] * 3
    readings = tiny_reader.recognizer(crops)
    assert [r.text for r in readings] == ["ABC1D23"] * 3
    assert tiny_reader.recognizer([]) == []
