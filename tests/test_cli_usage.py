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
