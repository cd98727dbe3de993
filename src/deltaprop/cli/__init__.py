"""The ``deltaprop`` command: one module per subcommand, each with ``register(subparsers)`` and ``run(args)``.

Errors in what the user gave (files, formulas, flags) are one line on stderr and exit status 2; ``--debug``
shows the traceback instead. Ctrl-C at any moment, start-up included, is one line and exit status 130: the
handler is installed before anything heavy is imported (:func:`exit_on_interrupt`), and a command with work to
save (training) installs its own while it runs.

Start-up stays fast because only the subcommand being run is imported: ``COMMANDS`` names every subcommand
with its one-line help, so ``deltaprop --help`` lists them all without importing any, and ``deltaprop NAME …``
imports ``cli/NAME.py`` alone. A subcommand module imports only argparse-level things at module level; NumPy,
SymPy, matplotlib, rich, … are imported inside its ``run`` (see docs/architecture.md, "Start-up").
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading


def _interrupted(signum, frame):  # no traceback, wherever the signal lands (an import, a parser, a print)
    try:
        os.write(2, b"deltaprop: interrupted\n")
    finally:
        os._exit(130)


def exit_on_interrupt():
    """Make SIGINT print one line and exit 130 at once; returns the handler it replaced (None off the main
    thread, where signals cannot be handled)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, _interrupted)


import argparse  # noqa: E402
import importlib  # noqa: E402

from ..engine import blas_start  # noqa: E402
from ..errors import DeltapropError  # noqa: E402

# name → one-line help, in --help order; the module cli/NAME.py registers the full parser of NAME
COMMANDS: dict[str, str] = {
    "train": "train a network by mini-batch gradient descent and save the run",
    "evaluate": "loss and metrics of a trained model on a data set",
    "predict": "predict with a trained model from a table, .npz or IDX file of inputs",
    "trace": "run forward and backward on one batch and show z, a, δ and gradients",
    "derive": "derivations as worked solutions: ∂L/∂(z, a, w, b) of a network, a loss from a likelihood",
    "gradcheck": "compare backprop's gradients with finite differences",
    "draw": "draw a network (Graphviz): neurons, weights and, on request, z, a, δ, ∂C/∂w",
    "examples": "list the bundled example networks, or copy one to the current folder",
    "playground": "open a browser view of the engine: inspect a network, train on 2-D sets",
    "export": "write a trained model as ONNX, a PyTorch state_dict, safetensors or TOML",
    "import": "read a safetensors model (e.g. trained in PyTorch) into a model.npz",
}
MODULES = {"import": "import_model"}  # a subcommand whose module cannot bear its name (a Python keyword)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 2, as for every other bad input; a "did you mean" if close
        self.exit(2, f"{self.prog}: error: {_one_line(with_suggestion(message, self))}\n")


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


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; given ``argv``, only the subcommand it names is imported and registered in full (the others
    are listed by name and help), so that ``deltaprop --help`` and each command start without the rest."""
    parser = _Parser(prog="deltaprop", description="Feed-forward networks trained by backpropagation.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"deltaprop {__version__}")
    parser.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE",
                        help="raise (or lower) a budget for this command, e.g. --limit memory=4GiB; budgets: "
                             "memory, toml_depth, toml_items, trace_values, table_cells, graph_neurons, "
                             "gradcheck_work, idx_elements (also DELTAPROP_LIMITS=NAME=VALUE,…)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    # the subcommand named in argv (the first word that is one; a --limit value is not), else none: every other
    # command is listed by name and help only, so its module (and what it imports) is never loaded
    chosen = None if argv is None else next((a for a in argv if a in COMMANDS), "")
    for name, help_ in COMMANDS.items():
        if chosen is None or name == chosen:
            importlib.import_module(f"{__name__}.{MODULES.get(name, name)}").register(sub)
        else:
            sub.add_parser(name, help=help_, add_help=False)
    for command in sub.choices.values():  # --limit also after the subcommand, where a refusal's advice is followed
        command.add_argument("--limit", action="append", default=[], dest="limit_after", metavar="NAME=VALUE",
                             help="raise (or lower) a budget, e.g. --limit memory=4GiB (see deltaprop --help)")
    return parser


def main(argv: list[str] | None = None) -> int:
    previous = exit_on_interrupt()  # first thing: Ctrl-C during the imports below is one line, status 130
    blas_start.one_thread()  # before NumPy loads OpenBLAS (see engine/blas_start.py)
    try:
        return _main(argv)
    finally:
        from .. import limits

        limits.set_limits({})  # --limit holds for this command only
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        try:
            args = build_parser(argv).parse_args(argv)
        except SystemExit as e:  # argparse: --help, --version, or a bad flag (already printed, one line)
            return e.code if isinstance(e.code, int) else 2
        if args.command is None:  # bare `deltaprop`: what it can do
            build_parser([]).print_help()
            return 0
        from .. import limits

        limits.set_limits({})
        limits.value("memory")  # a bad DELTAPROP_LIMITS is refused before any work
        values = {}
        for text in args.limit + getattr(args, "limit_after", []):
            values.update(limits.parse_settings(text, "--limit"))
        limits.set_limits(values)
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
    except BrokenPipeError:  # (before OSError, its base) `deltaprop trace … | head`: the reader left; say no more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as e:  # a missing or unreadable file, named
        if debug:
            raise
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        print(f"deltaprop: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("deltaprop: interrupted", file=sys.stderr)
        return 130


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())


if __name__ == "__main__":
    sys.exit(main())
