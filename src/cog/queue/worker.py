"""The queue worker: the server's second front door. It takes entries from the stream as free
slots allow, turns each into an order for the prediction core (`Predictions.create`, as the HTTP
adapters do), follows the prediction with a `Responder`, and acknowledges the entry once the
terminal response is stored. See `cog.queue.settings` for the flags.

An entry's life here: delivered (read, or taken over from a dead worker) → dead-lettered if
delivered too often → answered `failed` at once if unreadable or its input is invalid → acked
without running if its id already has a terminal response → run → its terminal response
stored → acked. When the model's worker process dies (the server goes DEFUNCT) nothing more is
read, and the entries it held are handed back for another worker: the crash is not their answer,
and their delivery count says how often it happened.

Shutdown (SIGTERM): reading stops at once; the predictions in flight may finish for the grace
(PYCOG_SHUTDOWN_GRACE), and are canceled after it, as the server cancels HTTP predictions; their
terminal responses are stored and their entries acked before the server exits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from redis.exceptions import ResponseError

from ..server.prediction import Prediction
from ..server.predictions import Answer, Kind, Order, Predictions, Verdict
from ..server.requests import PARSE_IN_THREAD_BYTES
from ..server.supervisor import Health
from .cancel import CancelWatcher
from .consumer import Consumer, Delivery
from .dead_letter import dead_letter, reason_for
from .keys import cancel_key
from .link import LOST, Link
from .requests import QueuedRequest, Unreadable, read_entry
from .responses import Responder, Responses
from .settings import QueueSettings

log = logging.getLogger("cog.queue")
RETRY_SUBMIT = 0.05
"""Seconds before an entry that found every slot busy (HTTP took it) tries again."""
READY_POLL = 0.05
REFUSED_BACKOFF = 1.0


class QueueWorker:
    def __init__(self, settings: QueueSettings, predictions: Predictions) -> None:
        self.settings = settings
        self.predictions = predictions
        self.supervisor = predictions.supervisor
        self.kind: Kind = "training" if self.supervisor.settings.mode == "train" else "prediction"
        self.link = Link(settings.redis_url)
        self.consumer = Consumer(self.link, settings)
        self.responses = Responses(self.link, settings.name, settings.result_ttl)
        self.cancels = CancelWatcher(self.link, predictions.cancel)
        self.held: set[str] = set()
        """The entries this worker holds (delivered, not yet acked or handed back)."""
        self.taking = 0
        """Entries delivered whose prediction is not submitted yet (each will take a slot)."""
        self.reading = False
        self.handlers: set[asyncio.Task[None]] = set()
        self.loops: list[asyncio.Task[None]] = []
        self.slot_freed = asyncio.Event()
        self._drain: asyncio.Task[None] | None = None
        self._next_reclaim = 0.0
        predictions.health_sections["queue"] = self.health
        self.supervisor.observers.append(self)

    # -- an observer of the supervisor (a slot frees: maybe read more) --------------------

    def submitted(self, prediction: Prediction) -> None:
        pass

    def ended(self, prediction: Prediction) -> None:
        self.slot_freed.set()

    # -- life --------------------------------------------------------------------------

    def start(self) -> None:
        self.reading = True
        self.loops = [
            asyncio.create_task(self._read_loop()),
            asyncio.create_task(self._keep_claims_alive()),
            asyncio.create_task(self.cancels.run()),
        ]

    def begin_drain(self) -> None:
        """SIGTERM: stop reading now; cancel what still runs once the grace is over."""
        if self._drain is None:
            self.reading = False
            if self.loops:
                self.loops[0].cancel()  # a blocked read ends now
            self._drain = asyncio.create_task(self._finish_in_flight())

    async def _finish_in_flight(self) -> None:
        grace = self.supervisor.settings.shutdown_grace
        if self.handlers:
            log.info("shutdown: letting %d queued prediction(s) finish", len(self.handlers))
            await asyncio.wait(set(self.handlers), timeout=grace)
        self.predictions.begin_shutdown()  # cancels what is left, ends it after another grace

    async def stop(self) -> None:
        """Wait until what was in flight is answered and acked (bounded), then disconnect."""
        self.begin_drain()
        assert self._drain is not None
        await self._drain
        if self.handlers:
            bound = 2 * self.supervisor.settings.shutdown_grace + 5
            _, left = await asyncio.wait(set(self.handlers), timeout=bound)
            if left:  # Redis is away: they are run again elsewhere once it is back
                log.error("shutdown: %d queued entr(ies) left unacknowledged", len(left))
                for handler in left:
                    handler.cancel()
                await asyncio.gather(*left, return_exceptions=True)
        for task in self.loops:
            task.cancel()
        await asyncio.gather(*self.loops, return_exceptions=True)
        await self.link.close()

    def health(self) -> dict[str, Any]:
        return {
            "name": self.settings.name,
            "group": self.settings.group,
            "consumer": self.settings.consumer,
            "connected": self.link.connected,
            "reading": self.reading,
            "in_flight": len(self.held),
        }

    # -- delivery ----------------------------------------------------------------------

    async def _read_loop(self) -> None:
        try:
            if not await self._wait_until_ready():
                return
            await self.consumer.join()
            while self.reading and self.supervisor.crash is None:
                try:
                    await self._read_some()
                except (ResponseError, ValueError, KeyError) as exc:
                    # Not a Redis that is away (retried where it happens) but one that refuses:
                    # the stream's key holds something else, say. Said, and tried again.
                    log.error("reading %s failed: %s; trying again", self.settings.name, exc)
                    await asyncio.sleep(REFUSED_BACKOFF)
        except asyncio.CancelledError:
            pass
        finally:
            self.reading = False

    async def _read_some(self) -> None:
        """Take as many entries as there are free slots: first those idle too long (when it
        is time to look for them), then new ones; or wait for a slot to free."""
        free = self.supervisor.slots - self.taking
        if free <= 0:
            self.slot_freed.clear()
            try:
                await asyncio.wait_for(self.slot_freed.wait(), 0.5)
            except asyncio.TimeoutError:  # not the builtin one before 3.11
                pass
            return
        found: list[Delivery] = []
        now = time.monotonic()
        if now >= self._next_reclaim:
            found = await self.consumer.reclaim(free)
            self._next_reclaim = now + self.settings.reclaim_every
        if not found:
            wait = max(0.0, self._next_reclaim - time.monotonic())
            found = await self.consumer.read(free, max(1, min(1000, int(wait * 1000))))
        for delivery in found:
            if self.reading:
                self._take(delivery)

    async def _wait_until_ready(self) -> bool:
        while self.supervisor.state is Health.STARTING:
            await asyncio.sleep(READY_POLL)
        if self.supervisor.state is not Health.READY:
            log.error("setup did not succeed: not taking work from %s", self.settings.name)
            return False
        return True

    def _take(self, delivery: Delivery) -> None:
        self.held.add(delivery.entry_id)
        self.taking += 1
        task = asyncio.create_task(self._handle(delivery))
        self.handlers.add(task)
        task.add_done_callback(self.handlers.discard)

    async def _keep_claims_alive(self) -> None:
        while True:
            await asyncio.sleep(self.settings.keepalive_every)
            held = list(self.held)
            if not held:
                continue
            try:
                await self.consumer.keep_alive(held)
                self.link.answered()
            except LOST as exc:
                self.link.lost("keeping claims alive", exc)
            except ResponseError as exc:  # the group is gone (Redis lost its data)
                log.error("could not keep the claims on %s alive: %s", self.settings.name, exc)

    # -- one entry ---------------------------------------------------------------------

    async def _handle(self, delivery: Delivery) -> None:
        entry_id = delivery.entry_id
        submitting = True  # until `_submit` takes over the slot this entry counts as taking
        try:
            request = await self._read(delivery)
            if isinstance(request, QueuedRequest) and await self.responses.terminal(
                request.prediction_id
            ):
                # It ran to its end before (its worker died before the ack): not again.
                log.info("%s already has a terminal response: acknowledged", request.prediction_id)
                await self.consumer.ack([entry_id])
                return
            if delivery.deliveries > self.settings.max_deliveries:
                await self._dead_letter(delivery, request)
                return
            if isinstance(request, Unreadable):
                await self._answer(entry_id, request.response())
                return
            submitting = False
            await self._run(request)
        except Exception:
            log.exception(
                "queue entry %s could not be handled; left for another delivery", entry_id
            )
        finally:
            if submitting:
                self._slot_back()
            self.held.discard(entry_id)

    async def _read(self, delivery: Delivery) -> QueuedRequest | Unreadable:
        """The entry's request; a big one is parsed in a thread, so the loop goes on serving
        (health checks, the other entries) meanwhile."""
        limit = self.supervisor.settings.max_request_bytes
        value = (delivery.fields or {}).get(b"value", b"")
        if len(value) > PARSE_IN_THREAD_BYTES:
            return await asyncio.to_thread(read_entry, delivery.entry_id, delivery.fields, limit)
        return read_entry(delivery.entry_id, delivery.fields, limit)

    def _slot_back(self) -> None:
        self.taking -= 1
        self.slot_freed.set()

    async def _run(self, request: QueuedRequest) -> None:
        responder = Responder(
            self.responses, request.prediction_id, self._keeps_answers, request.response_queue
        )
        order = Order(self.kind, "async", request.envelope, follow=responder.follow)
        answer = await self._submit(order)
        if answer is None:  # the model cannot take it: for another worker
            await self._hand_back(request.entry_id)
            return
        if answer.verdict is not Verdict.ACCEPTED:
            if answer.verdict is Verdict.INVALID:
                error = "invalid input: " + _detail_text(answer.body)
            else:
                error = str((answer.body or {}).get("error", answer.verdict.value))
            failed = Unreadable(request.entry_id, request.prediction_id, error)
            await self._answer(request.entry_id, failed.response())
            return
        self.cancels.watch(
            request.prediction_id,
            request.cancel_key or cancel_key(self.settings.name, request.prediction_id),
        )
        responder.accepted()
        try:
            stored = await responder.stored
        finally:
            self.cancels.forget(request.prediction_id)
        if stored:
            await self.consumer.ack([request.entry_id])
        elif self.supervisor.crash is not None:
            log.warning(
                "%s: the model's worker died; entry %s handed back for another worker",
                request.prediction_id,
                request.entry_id,
            )
            await self._hand_back(request.entry_id)

    async def _submit(self, order: Order) -> Answer | None:
        """The core's answer; None when the model will not take it (crashed, or stopping).
        A slot HTTP took meanwhile is waited for."""
        try:
            while True:
                answer = await self.predictions.create(order)
                if answer.verdict not in (Verdict.BUSY, Verdict.NOT_READY):
                    return answer
                if self.supervisor.crash is not None or not self.reading:
                    return None
                await asyncio.sleep(RETRY_SUBMIT)
        finally:
            self._slot_back()

    async def _hand_back(self, entry_id: str) -> None:
        self.held.discard(entry_id)  # first: a keepalive after the hand-back would undo it
        await self.consumer.hand_back([entry_id])

    def _keeps_answers(self) -> bool:
        """A prediction's end is its answer unless the model's worker crashed."""
        return self.supervisor.crash is None

    async def _answer(self, entry_id: str, response: dict[str, Any]) -> None:
        """Store a response the worker made itself (the entry never ran), then ack."""
        await self.responses.store(response["id"], response)
        await self.consumer.ack([entry_id])
        log.warning("queue entry %s failed: %s", entry_id, response.get("error"))

    async def _dead_letter(self, delivery: Delivery, request: QueuedRequest | Unreadable) -> None:
        reason = reason_for(delivery.deliveries, self.settings.max_deliveries)
        value = (delivery.fields or {}).get(b"value")
        await dead_letter(
            self.link, self.settings.name, delivery.entry_id, value, reason, delivery.deliveries
        )
        failed = Unreadable(delivery.entry_id, request.prediction_id, reason).response()
        await self._answer(delivery.entry_id, failed)


def _detail_text(body: dict[str, Any] | None) -> str:
    """Cog's 422 detail as one line: `text: Field required; steps: ...`."""
    detail = (body or {}).get("detail") or []
    parts = []
    for error in detail:
        loc = error.get("loc") or []
        where = "/".join(str(part) for part in loc[2:]) or "input"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "the input does not fit the model's schema"
