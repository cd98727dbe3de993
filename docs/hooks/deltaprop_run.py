"""MkDocs hook: the site's commands are run when it is built, so their outputs can never go stale.

In a page, a fenced block whose language is ``deltaprop`` holds commands, one per line::

    ```deltaprop
    deltaprop derive examples/exam_004.toml --wrt z3 --expanded
    ```

(```` ```deltaprop markdown ```` for commands that print Markdown, such as ``derive --format markdown``: their
output is put into the page as it is, rendered.) Each line is run with deltaprop's CLI in this process (``deltaprop.cli.main``), in a scratch folder (the bundled
examples are found by name or as ``examples/NAME.toml``), and the block becomes a console block with the
command and what it printed. A command that exits with a status other than 0 fails the build, unless the line
ends with ``# exit N`` and N is its status (for pages that show an error message).

``<!-- deltaprop-cli-reference -->`` on a line of its own becomes the help of every subcommand, from the
argument parser itself.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import tempfile

from mkdocs.exceptions import PluginError

BLOCK = re.compile(r"^```deltaprop( markdown)?[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
EXIT = re.compile(r"\s+#\s*exit\s+(\d+)\s*$")
WIDTH = "88"  # columns (the width of the theme's code blocks) for rich's tables and argparse's help

_scratch: tempfile.TemporaryDirectory | None = None


def on_pre_build(config, **kwargs):
    global _scratch
    _scratch = tempfile.TemporaryDirectory(prefix="deltaprop-docs-")


def on_post_build(config, **kwargs):
    global _scratch
    if _scratch is not None:
        _scratch.cleanup()
        _scratch = None


def run_command(line: str, where: str, raw: bool = False) -> str:
    """``$ line`` and its output (stdout, then stderr); PluginError if its status is not the expected one."""
    from deltaprop.cli import main

    m = EXIT.search(line)
    expected = int(m.group(1)) if m else 0
    command = EXIT.sub("", line).strip()
    argv = shlex.split(command)
    if not argv or argv[0] != "deltaprop":
        raise PluginError(f"{where}: a deltaprop block holds deltaprop commands, got {command!r}")
    out, err = io.StringIO(), io.StringIO()
    old_cwd, old_cols = os.getcwd(), os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        os.chdir(_scratch.name if _scratch else tempfile.gettempdir())
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(argv[1:])
    except Exception as e:  # a crash is a failed example too
        raise PluginError(f"{where}: `{command}` raised {type(e).__name__}: {e}") from e
    finally:
        os.chdir(old_cwd)
        if old_cols is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old_cols
    if status != expected:
        raise PluginError(f"{where}: `{command}` exited with {status} (expected {expected}):\n"
                          f"{err.getvalue() or out.getvalue()}")
    text = out.getvalue() + err.getvalue()
    if raw:  # the output is Markdown itself (derive --format markdown): shown rendered under the command
        text = re.sub(r"\$\$\n(?=\$\$)", "$$\n\n", text)  # each display equation its own paragraph
        return f"```console\n$ {command}\n```\n\n{text.rstrip()}\n"
    return f"$ {command}\n{text.rstrip()}"


def cli_reference() -> str:
    from deltaprop.cli import build_parser

    os.environ.setdefault("COLUMNS", WIDTH)
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    parts = ["## deltaprop", "", "```text", parser.format_help().rstrip(), "```", ""]
    for name, p in sub.choices.items():
        parts += [f"## deltaprop {name}", "", "```text", p.format_help().rstrip(), "```", ""]
    return "\n".join(parts)


def on_page_markdown(markdown: str, page, config, files):
    where = page.file.src_uri

    def replace(m: re.Match) -> str:
        lines = [ln for ln in m.group(2).splitlines() if ln.strip()]
        if m.group(1):
            return "\n".join(run_command(ln, where, raw=True) for ln in lines)
        return "```console\n" + "\n\n".join(run_command(ln, where) for ln in lines) + "\n```"

    markdown = BLOCK.sub(replace, markdown)
    if "<!-- deltaprop-cli-reference -->" in markdown:
        markdown = markdown.replace("<!-- deltaprop-cli-reference -->", cli_reference())
    return markdown
