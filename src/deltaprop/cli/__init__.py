"""The ``deltaprop`` command: one module per subcommand, each with ``register(subparsers)``.

Errors in what the user gave (files, formulas, flags) are one line on stderr and exit status 2; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import warnings

import numpy as np

from ..errors import DeltapropError

COMMANDS = ("train", "evaluate", "predict", "trace", "derive", "gradcheck", "draw", "examples",
            "playground")  # modules here, in --help order
COMMANDS += ("export", "import_model")  # issue 12: model exchange


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 2, as for every other bad input; a "did you mean" if close
        self.exit(2, f"{self.prog}: error: {with_suggestion(message, self)}\n")


def with_suggestion(message: str, parser: argparse.ArgumentParser | None = None) -> str:
    """argparse's "invalid choice: 'trian' (choose from …)" with "; did you mean 'train'?" added, and the
    same for an unrecognized flag (--epoch: --epochs)."""
    import difflib

    m = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if m:
        word = m.group(1)
        choices = re.findall(r"'([^']*)'", m.group(2)) or [c.strip() for c in m.group(2).split(",")]
    elif message.startswith("unrecognized arguments:") and parser is not None:
        word = next((a.split("=")[0] for a in message.split(":", 1)[1].split() if a.startswith("--")), None)
        choices = list(dict.fromkeys(_flags(parser)))
        if word is None:
            return message
    else:
        return message
    close = difflib.get_close_matches(word, choices, n=2, cutoff=0.6)
    return message + (f"; did you mean {' or '.join(map(repr, close))}?" if close else "")


def _flags(parser: argparse.ArgumentParser) -> list[str]:
    """Every --flag of the parser and of its subcommands."""
    out = []
    for action in parser._actions:
        out += [o for o in action.option_strings if o.startswith("--")]
        for sub in (getattr(action, "choices", None) or {}).values() if isinstance(action, argparse._SubParsersAction) else ():
            out += _flags(sub)
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="deltaprop", description="Feed-forward networks trained by backpropagation.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"deltaprop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
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
        if args.command is None:  # bare `deltaprop`: what it can do
            build_parser().print_help()
            return 0
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
