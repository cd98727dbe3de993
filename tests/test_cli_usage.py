"""The command line as a newcomer meets it: bare `deltaprop` prints usage; a mistyped name gets a suggestion."""

import contextlib
import io

from deltaprop.cli import main


def cli(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(args))
    return status, out.getvalue(), err.getvalue()


def test_bare_command_prints_usage_and_every_subcommand():
    status, out, err = cli()
    assert status == 0 and out.startswith("usage: deltaprop")
    for sub in ("train", "evaluate", "predict", "trace", "derive", "gradcheck", "draw", "examples"):
        assert f"\n    {sub}" in out


def test_mistyped_subcommand_choice_and_flag_get_did_you_mean():
    status, _, err = cli("trian")
    assert status == 2 and "did you mean 'train'" in err and len(err.strip().splitlines()) == 1
    status, _, err = cli("derive", "exam_004", "--wrt", "z3", "--notation", "nielson")
    assert status == 2 and "did you mean 'nielsen'" in err
    status, _, err = cli("trace", "exam_004", "--jsn")
    assert status == 2 and "did you mean '--json'" in err
    status, _, err = cli("trace", "exam_004", "--zzzzz")
    assert status == 2 and "did you mean" not in err


def test_every_fixed_choice_is_listed_in_help():
    import re

    _, out, _ = cli("train", "--help")
    flat = " ".join(out.split())
    for flag, values in {"--optimizer": "sgd,momentum,nesterov,adam,adamw", "--schedule": "constant,step,cosine",
                         "--dtype": "float64,float32", "--task": "classification,regression"}.items():
        assert f"{flag} {{{values}}}" in flat, flag
    assert re.search(r"--init \{[a-z,]*glorot[a-z,]*\}", flat)
    for name in ("relu", "tanh", "sigmoid", "formula in z"):
        assert name in flat.split("--activation ACTIVATION")[-1].split("--output")[0]
    assert "cross_entropy" in flat.split("--loss LOSS")[-1]


def test_mistyped_names_in_train_get_did_you_mean(tmp_path):
    for args, hint in ((["--optimizer", "adamm"], "'adam'"), (["--activation", "relux"], "'relu'"),
                       (["--loss", "cross_entropi"], "'cross_entropy'"), (["--data", "digts"], "'digits'"),
                       (["--schedule", "cosin"], "'cosine'")):
        status, _, err = cli("train", *args, "--epochs", "1", "--quiet", "--out", str(tmp_path / "r"))
        assert status == 2 and f"did you mean {hint}" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "r").exists()  # refused before anything was written
    # a formula is not a typo
    status, _, err = cli("train", "--data", "xor", "--activation", "tanh(z)", "--hidden", "3", "--epochs", "1",
                         "--quiet", "--out", str(tmp_path / "f"))
    assert status == 0, err


def test_hidden_empty_or_zero_trains_the_linear_model_python_trains(tmp_path):
    import numpy as np

    import deltaprop as dp

    ref = dp.fit("xor", hidden=[], epochs=3, verbose=False)
    assert ref.model.net.sizes == [2, 2]
    for text in ("", "0"):
        out = tmp_path / f"run{text or 'empty'}"
        status, _, err = cli("train", "--data", "xor", "--hidden", text, "--epochs", "3", "--quiet", "--out", str(out))
        assert status == 0, err
        model = dp.load_model(out / "model.npz")
        assert model.net.sizes == [2, 2]
        for a, b in zip(model.net.params(), ref.model.net.params()):
            np.testing.assert_array_equal(a, b)  # the same seed: the same weights bit for bit
