"""The progress bar of :func:`deltaprop.fit`: one tick per epoch, with the epoch's losses beside it.

tqdm's ``tqdm.auto`` picks the bar: a widget in Jupyter (with ipywidgets installed), text on stderr elsewhere.
``dp.fit(..., verbose=False)`` shows none; the CLI draws its own (``--quiet`` for none).
"""

from __future__ import annotations


class EpochBar:
    """A callable ``progress(record, cfg)`` for the training loop that moves a tqdm bar."""

    def __init__(self, total: int, done: int = 0, desc: str = "training"):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, initial=done, unit="epoch", desc=desc, leave=True, dynamic_ncols=True)

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


def epoch_bar(total: int, done: int, desc: str) -> EpochBar | None:
    """A bar, or None where tqdm is not installed (training runs the same without it)."""
    try:
        return EpochBar(total, done, desc)
    except ImportError:
        return None
