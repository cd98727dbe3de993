"""The progress bar of :func:`deltaprop.fit`: one tick per epoch, with the epoch's losses beside it.

tqdm's ``tqdm.auto`` picks the bar: a widget in Jupyter (with ipywidgets installed), text on stderr elsewhere.
By default the bar is shown where someone is watching: in Jupyter, or when stderr is a terminal (not in a log
or a pipe); ``dp.fit(..., verbose=True)`` always, ``verbose=False`` never. The CLI draws its own (``--quiet``:
none).
"""

from __future__ import annotations

import html


class EpochBar:
    """A callable ``progress(record, cfg)`` for the training loop that moves a tqdm bar."""

    def __init__(self, total: int, done: int = 0, desc: str = "training"):
        from tqdm.auto import tqdm

        kw = dict(total=total, initial=done, unit="epoch", desc=desc, leave=True, dynamic_ncols=True)
        self.handle = None
        widget = _is_widget(tqdm)
        if widget:  # shown here with a display id, so that its text form is brought up to date at the end
            kw["display"] = False
        self.bar = tqdm(**kw)
        if widget and hasattr(self.bar, "container"):
            from IPython.display import display

            self.handle = display(self.bar.container, display_id=True)

    def __call__(self, record: dict, cfg) -> None:
        text = {"loss": f"{record['train_loss']:.4g}"}
        if record.get("val_loss") is not None:
            text["val_loss"] = f"{record['val_loss']:.4g}"
        for k in ("val_accuracy", "val_mse"):
            if record.get(k) is not None:
                text[k] = f"{record[k]:.4g}"
        self.bar.set_postfix(text, refresh=False)
        self.bar.update(record["epoch"] - self.bar.n)

    def close(self) -> None:
        self.bar.close()
        if self.handle is not None:
            # the widget gives way to a plain HTML bar of the final state: a saved notebook, or a page made from
            # it, shows that without the widget's JavaScript (and without it would show nothing, or 0 %)
            b = self.bar
            text = b.format_meter(**{**b.format_dict, "ncols": 0})
            done, total = b.n, b.total or max(b.n, 1)
            page = (f"<div><progress value='{done}' max='{total}' style='width:30em; vertical-align:middle'>"
                    f"</progress> <code>{html.escape(text)}</code></div>")
            self.handle.update({"text/html": page, "text/plain": text}, raw=True)
            try:
                b.container.close()
            except AttributeError:
                pass


def _is_widget(cls) -> bool:
    try:
        from tqdm.notebook import tqdm as notebook_tqdm
    except ImportError:
        return False
    return issubclass(cls, notebook_tqdm)


def watched() -> bool:
    """In a Jupyter kernel, or with stderr on a terminal."""
    import sys

    shell = sys.modules.get("IPython")
    if shell is not None:
        ip = shell.get_ipython()
        if ip is not None and getattr(ip, "kernel", None) is not None:
            return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def epoch_bar(total: int, done: int, desc: str) -> EpochBar | None:
    """A bar, or None where tqdm is not installed (training runs the same without it)."""
    try:
        return EpochBar(total, done, desc)
    except ImportError:
        return None
