"""The ``deltaprop`` command: one module per subcommand, each with ``register(subparsers)`` and ``run(args)``.

Errors in what the user gave (files, formulas, flags) are one line on stderr and exit status 2; ``--debug``
shows the traceback instead.

Start-up stays fast because only the subcommand being run is imported: ``COMMANDS`` names every subcommand
with its one-line help, so ``deltaprop --help`` lists them all without importing any, and ``deltaprop NAME …``
imports ``cli/NAME.py`` alone. A subcommand module imports only argparse-level things at module level; NumPy,
SymPy, matplotlib, rich, … are imported inside its ``run`` (see docs/architecture.md, "Start-up").
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ..errors import DeltapropError

# name → one-line help, in --help order; the module cli/NAME.py registers the full parser of NAME
COMMANDS: dict[str, str] = {
    "train": "train a network by mini-batch gradient descent and save the run",
    "evaluate": "loss and accuracy or MSE of a trained model on a data set",
    "predict": "predict with a trained model from a CSV of inputs",
    "trace": "run forward and backward on one batch and show z, a, δ and gradients",
    "derive": "derive ∂L/∂(z, a, w or b) of a neuron graph, or a loss from a likelihood",
    "gradcheck": "compare backprop's gradients with finite differences",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 2, as for every other bad input
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; given ``argv``, only the subcommand it names is imported and registered in full (the others
    are listed by name and help), so that ``deltaprop --help`` and each command start without the rest."""
    parser = _Parser(prog="deltaprop", description="Feed-forward networks trained by backpropagation.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"deltaprop {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    chosen = None if argv is None else next((a for a in argv if not a.startswith("-")), "")
    for name, help_ in COMMANDS.items():
        if chosen is None or name == chosen:
            importlib.import_module(f"{__name__}.{name}").register(sub)
        else:
            sub.add_parser(name, help=help_, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        try:
            args = build_parser(argv).parse_args(argv)
        except SystemExit as e:  # argparse: --help, --version, or a bad flag (already printed, one line)
            return e.code if isinstance(e.code, int) else 2
        # overflow or 0·∞ inside NumPy shows up as Inf or NaN in the result, which each command checks and
        # reports in one line; NumPy's own RuntimeWarnings would only add lines before it
        import warnings

        import numpy as np

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
