"""Backpressure: the bounded wait queue in front of the prediction slots (`COG_MAX_QUEUE`).

With no queue (the default) a request that finds every slot busy is refused (409, as Cog).
With one, it waits here in order of arrival and is sent to the worker the moment a slot frees
(in the supervisor's release of the prediction that held it, so no later request can take the
slot first); beyond the queue a request is refused with an estimate of when to retry. A
waiting prediction can be canceled (or its client leave): it ends `canceled` without running.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from typing import TYPE_CHECKING

from ..runtime import events
from .errors import Busy, NotReady, QueueFull, WorkerCrashed
from .prediction import Prediction

if TYPE_CHECKING:
    from .supervisor import Supervisor

RECENT = 32
"""Predict times the retry estimate averages."""
SHUTDOWN = "the server shut down before the prediction got a slot"


class Admission:
    """Predictions waiting for a slot, first come first served; an `Observer` of the
    supervisor (a freed slot goes to the first waiter)."""

    def __init__(self, supervisor: Supervisor, capacity: int) -> None:
        self.supervisor = supervisor
        self.capacity = capacity
        self._waiting: OrderedDict[
            str, tuple[Prediction, dict[str, str], dict[str, str] | None]
        ] = OrderedDict()
        self._predict_times: deque[float] = deque(maxlen=RECENT)
        self.closed = False

    @property
    def waiting(self) -> int:
        """How many predictions wait for a slot (the queue depth)."""
        return len(self._waiting)

    def find(self, prediction_id: str | None) -> Prediction | None:
        found = self._waiting.get(prediction_id or "")
        return None if found is None else found[0]

    def admit(
        self, prediction: Prediction, context: dict[str, str], trace: dict[str, str] | None = None
    ) -> None:
        """Send the prediction to the worker, or queue it behind the others; raises Busy (no
        queue), QueueFull, NotReady, WorkerCrashed. `trace`: its span's W3C headers, for the
        worker."""
        if not self._waiting:
            try:
                self.supervisor.submit(prediction, context, trace)
                return
            except Busy:
                if self.capacity <= 0:
                    raise
        elif self.supervisor.crash is not None:
            raise WorkerCrashed(self.supervisor.crash)
        if len(self._waiting) >= self.capacity:
            raise QueueFull(self.capacity, self.retry_after())
        self._waiting[prediction.id] = (prediction, context, trace)
        if self.closed:  # came in as the server began to shut down: as `submit` does
            self.cancel(prediction.id)

    def retry_after(self) -> int:
        """Seconds until a place in the queue is likely to free: the mean of recent predict
        times over the slots (one of them ends about that often), at least 1."""
        if not self._predict_times:
            return 1
        slots = max(1, self.supervisor.slots + len(self.supervisor.predictions))
        mean = sum(self._predict_times) / len(self._predict_times)
        return max(1, math.ceil(mean / slots))

    def cancel(self, prediction_id: str) -> bool:
        """End a waiting prediction `canceled`, without running it; whether one waited."""
        found = self._waiting.pop(prediction_id, None)
        if found is None:
            return False
        self._end(found[0], events.Done(prediction_id, canceled=True))
        return True

    def close(self) -> None:
        """The server is shutting down: every waiter ends canceled, and so do later ones."""
        self.closed = True
        for prediction_id in list(self._waiting):
            self.cancel(prediction_id)

    # -- as an Observer ----------------------------------------------------------------

    def submitted(self, prediction: Prediction) -> None:
        """Nothing to do: a waiter is submitted by `ended`."""

    def ended(self, prediction: Prediction) -> None:
        """A slot is free: it goes to the first waiter (and the predict time is noted)."""
        predict_time = prediction.metrics.get("predict_time")
        if isinstance(predict_time, int | float):
            self._predict_times.append(float(predict_time))
        supervisor = self.supervisor
        while self._waiting and supervisor.slots > 0:
            prediction_id, (waiter, context, trace) = self._waiting.popitem(last=False)
            try:
                supervisor.submit(waiter, context, trace)
            except NotReady as exc:  # the worker is gone: no waiter can ever run
                self._end(waiter, events.Done(prediction_id, str(exc)))
                for other_id, (other, _, _) in list(self._waiting.items()):
                    del self._waiting[other_id]
                    self._end(other, events.Done(other_id, str(exc)))

    def _end(self, prediction: Prediction, done: events.Done) -> None:
        """A waiter ends without a slot: its clients hear of it, the supervisor's other
        observers too (it is kept for polling, counted in the metrics, logged, its span
        ended), and its terminal webhook goes out."""
        prediction.apply(done)
        for observer in self.supervisor.observers:
            if observer is not self:  # no slot was freed
                observer.ended(prediction)
        self.supervisor.finish_webhook(prediction)
