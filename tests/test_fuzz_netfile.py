"""Hypothesis fuzzing of the network-file reader: any document either builds or gives a DeltapropError.

Documents are drawn valid and then one key is replaced by an arbitrary value, so that the fuzzing reaches
every check instead of stopping at the first missing key."""

import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent.parent / "fuzz"))
import targets  # noqa: E402

scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 6), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=12),
                    st.sampled_from(["tanh", "relu", "softmax", "z**2", "glorot", "mean", "bogus", "float16"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(st.text(max_size=6), inner, max_size=4)),
                      max_leaves=10)
ACTS = ["tanh", "relu", "sigmoid", "identity", "square", "softplus", "leaky_relu"]


@st.composite
def valid_documents(draw):
    sizes = draw(st.lists(st.integers(1, 4), min_size=2, max_size=4))
    layers = []
    for i, n in enumerate(sizes[1:], start=1):
        layer = {"size": n, "activation": draw(st.sampled_from(ACTS + (["softmax"] if i == len(sizes) - 1 else [])))}
        if draw(st.booleans()):
            layer["weights"] = draw(st.lists(st.lists(st.floats(-3, 3), min_size=sizes[i - 1],
                                                      max_size=sizes[i - 1]), min_size=n, max_size=n))
        if draw(st.booleans()):
            layer["bias"] = draw(st.lists(st.floats(-3, 3), min_size=n, max_size=n))
        layers.append(layer)
    doc = {"inputs": sizes[0], "layer": layers,
           "loss": {"name": draw(st.sampled_from(["quadratic", "gaussian_nll", "cross_entropy", "itakura_saito"])),
                    "reduction": draw(st.sampled_from(["mean", "sum"]))},
           "init": {"seed": draw(st.integers(0, 2**64)), "scheme": draw(st.sampled_from(["glorot", "he", "normal"]))},
           "dtype": draw(st.sampled_from(["float32", "float64"]))}
    return doc


@st.composite
def mutated_documents(draw):
    doc = draw(valid_documents())
    where = draw(st.sampled_from(["inputs", "layer", "loss", "init", "dtype", "layer.size", "layer.activation",
                                  "layer.weights", "layer.bias", "loss.name", "loss.reduction", "loss.sigma2",
                                  "init.seed", "init.scheme", "sample"]))
    bad = draw(values)
    if "." in where:
        table, key = where.split(".")
        target = draw(st.sampled_from(doc["layer"])) if table == "layer" else doc[table]
        target[key] = bad
    else:
        doc[where] = bad
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(valid_documents())
def test_valid_documents_build(doc):
    targets.netfile_doc(doc, must_build=True)


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated_documents())
def test_any_document_builds_or_is_refused_clearly(doc):
    targets.netfile_doc(doc)


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(max_size=300))
def test_any_text_is_read_or_refused_clearly(text):
    targets.netfile_text("inputs = 2\n[[layer]]\nsize = 1\n" + text)
    targets.netfile_text(text)


# --- the formula parser ------------------------------------------------------------------------------------------

FORMULA_PIECES = ["z", "a", "t", "1", "0.5", "2", "+", "-", "*", "/", "**", "(", ")", "exp(", "log(", "sqrt(",
                  "tanh(", "abs(", "sigmoid(", ",", " ", "__import__", "os", ".", "'", "[", "]", "lambda", ":",
                  "9", "e", "pi", "max(", "1e308", "_", "x"]


@settings(max_examples=1200, deadline=2000, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(FORMULA_PIECES), max_size=25).map("".join))
def test_any_formula_from_pieces_is_parsed_or_refused_clearly(text):
    targets.formula_text(text)


@settings(max_examples=400, deadline=2000, suppress_health_check=list(HealthCheck))
@given(st.text(max_size=80))
def test_any_text_as_a_formula_is_parsed_or_refused_clearly(text):
    targets.formula_text(text)
