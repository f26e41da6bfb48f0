"""Where training (Progress) or a long computation (Counter) stands: one line updated in place in a notebook,
a tqdm bar in a terminal."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

if TYPE_CHECKING:
    from .checkpoint import History


class Progress:
    """Where training stands: one line updated in place in a notebook, a tqdm bar in a terminal.

    In a notebook the line is a display updated by id, so a saved notebook keeps its last state, the
    final numbers, as plain text (a progress-bar widget would be saved showing 0%).
    """

    def __init__(self, label: str, epochs: int, steps_per_epoch: int, enabled: bool) -> None:
        self.label, self.epochs, self.steps = label, epochs, steps_per_epoch
        self.start = self.shown = time.perf_counter()
        self.handle = self.bar = None
        self.notes: list[str] = []
        if not enabled:
            return
        if _in_notebook():
            from IPython.display import display

            self.handle = display({"text/plain": f"{label}: starting"}, raw=True, display_id=True)
        else:
            self.bar = tqdm(total=epochs * steps_per_epoch, unit="batch", desc=label)

    def _show(self, line: str) -> None:
        self.handle.update({"text/plain": "\n".join([line, *self.notes])}, raw=True)
        self.shown = time.perf_counter()

    def step(self, epoch: int, step: int, loss: float) -> None:
        if self.bar is not None:
            self.bar.update()
            if step % 50 == 0:
                self.bar.set_postfix(epoch=epoch + 1, loss=f"{loss:.1f}")
        elif self.handle is not None and time.perf_counter() - self.shown > 1.0:
            self._show(f"{self.label}: epoch {epoch + 1}/{self.epochs}, step {step + 1}/{self.steps}, "
                       f"batch loss {loss:.2f}, {time.perf_counter() - self.start:.0f} s")

    def epoch_done(self, history: History) -> None:
        if self.bar is not None and history.test_loss:
            self.bar.set_postfix(epoch=len(history.seconds), test_loss=f"{history.test_loss[-1]:.1f}")
        elif self.handle is not None:
            self._show(self.summary(history))

    def summary(self, history: History) -> str:
        done = len(history.seconds)
        if done == 0:
            return f"{self.label}: no epoch finished ({time.perf_counter() - self.start:.0f} s)"
        line = (f"{self.label}: {done}/{self.epochs} epochs in {time.perf_counter() - self.start:.0f} s; "
                f"epoch {done}: train loss {history.train_loss[-1]:.2f}")
        if history.test_loss:
            line += f", test loss {history.test_loss[-1]:.2f}"
        if any(history.train_kl):
            line += f" (= reconstruction {(history.test_recon or history.train_recon)[-1]:.2f} + KL " \
                    f"{(history.test_kl or history.train_kl)[-1]:.2f})"
        return line + " nats per image"

    def note(self, message: str) -> None:
        if self.bar is not None:
            self.bar.write(message)
        elif self.handle is not None:
            self.notes.append(message)
        else:
            print(message)

    def close(self, history: History) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.handle is not None:
            self._show(self.summary(history))


class Counter:
    """Items done of a total, with the time so far and an estimate of the time left, as a context manager.

    `with Counter("scoring", 10_000, "digits", enabled=True) as count: ... count.add(100)`. In a notebook it is
    a plain-text line updated at most once a second (a saved notebook keeps the final line); in a terminal
    a tqdm bar; nothing when not enabled.
    """

    def __init__(self, label: str, total: int, unit: str, enabled: bool) -> None:
        self.label, self.total, self.unit, self.done = label, total, unit, 0
        self.start = self.shown = time.perf_counter()
        self.handle = self.bar = None
        if enabled and _in_notebook():
            from IPython.display import display

            self.handle = display({"text/plain": f"{label}: starting"}, raw=True, display_id=True)
        elif enabled:
            self.bar = tqdm(total=total, unit=unit, desc=label)

    def __enter__(self) -> Counter:
        return self

    def add(self, count: int) -> None:
        self.done += count
        if self.bar is not None:
            self.bar.update(count)
        elif self.handle is not None and (time.perf_counter() - self.shown > 1.0 or self.done >= self.total):
            self._show()

    def _show(self) -> None:
        elapsed = time.perf_counter() - self.start
        line = f"{self.label}: {self.done:,}/{self.total:,} {self.unit}, {elapsed:.0f} s"
        if 0 < self.done < self.total:
            line += f", about {elapsed * (self.total - self.done) / self.done:.0f} s left"
        self.handle.update({"text/plain": line}, raw=True)
        self.shown = time.perf_counter()

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.handle is not None:
            self._show()


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, Colab, nbclient), False in a terminal or script."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")
