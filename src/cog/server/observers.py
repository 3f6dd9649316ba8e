"""Who else hears of a prediction's life besides its clients: metrics, the store of finished
predictions that polling reads, a queue's responses. Each observer is told in the supervisor,
synchronously, so what it keeps is up to date before any client hears of the same event."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .prediction import Prediction


class Observer(Protocol):
    def submitted(self, prediction: Prediction) -> None:
        """The prediction has a slot and was sent to the worker."""

    def ended(self, prediction: Prediction) -> None:
        """The prediction reached its terminal state; its slot is free again."""
