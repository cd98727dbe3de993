"""The ``deltaprop`` command: one module per subcommand, each with ``register(subparsers)``.

Errors in what the user gave (files, formulas, flags) are one line on stderr and exit status 2; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

import numpy as np

from ..errors import DeltapropError

COMMANDS = ("train", "evaluate", "predict", "trace", "derive", "gradcheck")  # modules here, in --help order
COMMANDS += ("export", "import_model")  # issue 12: model exchange


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 2, as for every other bad input
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="deltaprop", description="Feed-forward networks trained by backpropagation.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"deltaprop {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as e:  # argparse: --help, --version, or a bad flag (already printed, one line)
            return e.code if isinstance(e.code, int) else 2
        # overflow or 0·∞ inside NumPy shows up as Inf or NaN in the result, which each command checks and
        # reports in one line; NumPy's own RuntimeWarnings would only add lines before it
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return args.func(args) or 0
    except DeltapropError as e:
        if debug:
            raise
        print(f"deltaprop: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except OSError as e:  # a missing or unreadable file, named
        if debug:
            raise
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        print(f"deltaprop: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `deltaprop trace … | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print("deltaprop: interrupted", file=sys.stderr)
        return 130


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())


if __name__ == "__main__":
    sys.exit(main())
