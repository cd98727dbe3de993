"""Hypothesis fuzzing of the model loader, the checkpoint loader and the data loaders: whatever the bytes, the
reader gives a checked result or a DeltapropError, never another exception, a hang or an allocation beyond the
limits. Inputs are valid files mutated (bytes flipped, cut short, arrays replaced, metadata edited) so the
fuzzing reaches the checks behind the first one. The long runs are `fuzz/run.py`."""

import json
import sys
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent.parent / "fuzz"))
import targets  # noqa: E402

MODEL = {task: targets.sample_model_bytes(task) for task in ("classification", "regression")}
CHECKPOINT = targets.sample_checkpoint_bytes()
FAST = dict(deadline=None, database=None, suppress_health_check=list(HealthCheck))

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-2, 5), st.floats(allow_nan=False),
              st.text(max_size=8), st.sampled_from(["tanh", "softmax", "float16", "classification", "regression"])),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=8)


def arrays_of(content: bytes) -> dict:
    import io

    with np.load(io.BytesIO(content), allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


@st.composite
def flipped(draw, content: bytes):
    b = bytearray(content)
    for _ in range(draw(st.integers(1, 8))):
        b[draw(st.integers(0, len(b) - 1))] = draw(st.integers(0, 255))
    return bytes(b)


def mutations(content: bytes):
    return st.one_of(flipped(content), st.integers(0, len(content)).map(lambda n: content[:n]),
                     st.binary(max_size=400))


@settings(max_examples=700, **FAST)
@given(st.sampled_from(sorted(MODEL)).flatmap(lambda task: mutations(MODEL[task])))
def test_model_bytes_load_or_are_refused(content):
    targets.model_bytes(content)


array_values = st.one_of(
    st.builds(np.zeros, st.sampled_from([(), (0,), (3,), (4,), (4, 3), (3, 4), (2, 4), (4, 2), (1, 1), (2, 2, 2)]),
              st.sampled_from(["f8", "f4", "f2", "i4", "u1", "?", "c16", "U3", "M8[s]"])),
    st.sampled_from([np.full((4, 3), np.nan), np.full(3, np.inf), np.full(3, -1.0), np.array([1e308] * 2)]))


@st.composite
def edited_models(draw):
    """A valid model with arrays replaced or dropped, or one metadata value replaced by any JSON value."""
    task = draw(st.sampled_from(sorted(MODEL)))
    arrays = arrays_of(MODEL[task])
    meta = json.loads(arrays["meta"].tobytes())
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(sorted(arrays) + ["extra"]))
        action = draw(st.sampled_from(["replace", "drop", "meta"]))
        if action == "replace":
            arrays[key] = draw(array_values)
        elif action == "drop":
            arrays.pop(key, None)
        else:
            where = draw(st.sampled_from(["format", "version", "task", "classes", "feature_names", "info",
                                          "network", "network.sizes", "network.activations", "network.loss",
                                          "network.loss_params", "network.dtype", "network.reduction",
                                          "info.seed", "info.noise", "info.val_split", "info.data"]))
            head, _, tail = where.partition(".")
            target = meta if not tail or not isinstance(meta.get(head), dict) else meta[head]
            target[tail or head] = draw(json_values)
    if "meta" in arrays and arrays["meta"].dtype == np.uint8:
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    return arrays


@settings(max_examples=700, **FAST)
@given(edited_models())
def test_edited_models_load_or_are_refused(arrays):
    targets.model_arrays(arrays)


@settings(max_examples=300, **FAST)
@given(mutations(CHECKPOINT))
def test_checkpoint_bytes_load_or_are_refused(content):
    targets.checkpoint_bytes(content)


cells = st.one_of(st.sampled_from(["1", "-2.5", "0", "1e3", "nan", "inf", "-Infinity", "1e400", "", " ", "a", "b",
                                   '"x,y"', "3,", "1_0", "0x1f", "\x00", "é"]),
                  st.floats().map(repr), st.text(max_size=4))


@st.composite
def csv_texts(draw):
    width = draw(st.integers(1, 4))
    rows = [",".join(draw(st.lists(cells, min_size=max(0, width - 1), max_size=width + 1)))
            for _ in range(draw(st.integers(0, 6)))]
    sep = draw(st.sampled_from(["\n", "\r\n", "\n\n"]))
    return sep.join([",".join(f"c{j}" for j in range(width))] + rows)


@settings(max_examples=800, **FAST)
@given(st.one_of(csv_texts(), st.text(max_size=200)), st.sampled_from([None, "classification", "regression"]))
def test_csv_text_loads_or_is_refused(text, task):
    targets.csv_text(text, task)


@st.composite
def idx_files(draw):
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=1, max_size=3)))
    content = targets.sample_idx_bytes(shape, draw(st.sampled_from(sorted(targets.data_mod.IDX_TYPES))))
    empty_but_huge = bytes([0, 0, 8, 3]) + np.array([0, 2**32 - 1, 2**32 - 1], ">u4").tobytes()  # found by fuzz/run.py
    return draw(st.one_of(st.just(content), st.just(empty_but_huge), mutations(content),
                          st.binary(max_size=8).map(lambda tail: content[:4] + b"\xff\xff\xff\xff" + tail)))


@settings(max_examples=500, **FAST)
@given(idx_files())
def test_idx_bytes_load_or_are_refused(content):
    targets.idx_bytes(content)
