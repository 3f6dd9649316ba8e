"""The worker supervisor: starts the worker, tracks health and slots, and routes each worker
event to its prediction (which applies it); when one ends, frees its slot, cleans up, and hands
the terminal state to its followers (its webhook sender, a queue's responses)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import itertools
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal

from .._decorators import declares_streaming
from ..runtime import events
from ..runtime.health import HEALTHCHECK_TIMEOUT
from ..runtime.outputs import FILE_MARKER
from ..runtime.transport import FrameProtocol
from .errors import Busy as Busy  # re-exported, as NotReady and WorkerCrashed
from .errors import NotReady as NotReady
from .errors import UploadError
from .errors import WorkerCrashed as WorkerCrashed
from .files import FileResolver
from .observers import Observer
from .prediction import Prediction, Status, now
from .settings import ServerSettings
from .tracing import ServerTracing
from .validation import InputValidator
from .worker_process import WorkerProcess, spawn_worker

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("cog.server")
# The worker gives up on the model's check first and says so in Cog's words; this only covers
# a worker that cannot answer at all.
HEALTHCHECK_WAIT = HEALTHCHECK_TIMEOUT + 1.0
WORKDIR_ROOT = os.path.join(tempfile.gettempdir(), "pycog", "predictions")
_RUN_TOKEN = secrets.token_hex(4)  # this server's, so that two servers never share a workdir
_workdirs = itertools.count()


Component = Literal["Input", "TrainingInput"]
"""The schema component a request's input is validated against."""


class Health(str, Enum):
    """What `/health-check` reports (Cog's names)."""

    STARTING = "STARTING"
    READY = "READY"
    BUSY = "BUSY"
    UNHEALTHY = "UNHEALTHY"
    SETUP_FAILED = "SETUP_FAILED"
    DEFUNCT = "DEFUNCT"
    STOPPING = "STOPPING"


@dataclass
class Setup:
    started_at: str = field(default_factory=now)
    completed_at: str | None = None
    status: Status = Status.STARTING
    logs: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"started_at": self.started_at, "status": self.status.value}
        if self.completed_at:
            data["completed_at"] = self.completed_at
        data["logs"] = "".join(self.logs)  # always, as Cog: clients read it unguarded
        return data


class Supervisor:
    """Owns the worker process and every prediction in flight."""

    def __init__(self, settings: ServerSettings, worker: WorkerProcess | None = None) -> None:
        self.settings = settings
        self.worker = worker
        self.state = Health.STARTING
        self.setup = Setup()
        self.schema: dict[str, Any] | None = None
        self.streams = False
        self.validators: dict[Component, InputValidator] = {}
        self.predictions: dict[str, Prediction] = {}
        # Events of a prediction waiting behind an output whose files are being resolved.
        self.backlogs: dict[str, deque[events.Message]] = {}
        self.slots = settings.concurrency
        self.health_waiters: dict[str, asyncio.Future[events.HealthcheckResult]] = {}
        self._healthcheck: asyncio.Future[str | None] | None = None
        self.crash: str | None = None
        """Why the worker is gone, once it exited while serving."""
        self.process: subprocess.Popen[bytes] | None = None
        self.channel: FrameProtocol | None = None
        self._http: httpx.AsyncClient | None = None
        self.tracing = ServerTracing.start(settings)
        """None when tracing is off (the usual case): nothing of OpenTelemetry is loaded."""
        self.files = FileResolver(settings.upload_url, lambda: self.http, self.tracing)
        self.tasks: set[asyncio.Task[Any]] = set()
        self.deliveries: set[asyncio.Task[Any]] = set()
        self.stopping = False
        self._shutdown: asyncio.Task[None] | None = None
        self.observers: list[Observer] = []
        if self.tracing is not None:
            self.observers.append(self.tracing)

    @property
    def http(self) -> httpx.AsyncClient:
        """The client for webhooks and uploads (httpx is imported on first use: it is slow to
        import and most servers never need it)."""
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient()
        return self._http

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        worker = self.worker or spawn_worker(self.settings)
        self.process = worker.process
        _, self.channel = await asyncio.get_running_loop().create_connection(
            lambda: FrameProtocol(self._dispatch), sock=worker.sock
        )
        self._spawn(self._watch_process())
        if self.settings.setup_timeout:
            self._spawn(self._setup_deadline(self.settings.setup_timeout))

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _setup_deadline(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if self.state is Health.STARTING:
            self._setup_failed("worker setup timed out")
            if self.process is not None and self.process.poll() is None:
                self.process.kill()

    def begin_shutdown(self) -> None:
        """The server is shutting down: cancel what runs, and fail what still runs when the
        grace is over (called once the server stops taking connections, and by `stop`)."""
        if self._shutdown is not None:
            return
        self.stopping = True
        for prediction in list(self.predictions.values()):
            self.cancel(prediction.id)
        self._shutdown = self._spawn(self._end_in_flight(self.settings.shutdown_grace))

    async def _end_in_flight(self, grace: float) -> None:
        ended = [prediction.ended() for prediction in self.predictions.values()]
        if ended:
            await asyncio.wait(ended, timeout=grace)
        self._abandon_in_flight(grace)

    def _abandon_in_flight(self, grace: float) -> None:
        """End what ignored its cancel, with a terminal state that says so: the worker is
        about to be stopped, and its clients and webhooks must hear how it ended."""
        reason = (
            f"the server shut down and the prediction did not stop within {grace:g} s of "
            "being canceled (PYCOG_SHUTDOWN_GRACE)"
        )
        for prediction in list(self.predictions.values()):
            self.backlogs.pop(prediction.id, None)  # outputs still being uploaded: too late
            self._apply(prediction, events.Done(prediction.id, reason))

    async def stop(self) -> None:
        """Cancel what runs, end what outlives the grace, deliver the terminal webhooks (for
        as long again at most), stop the worker."""
        self.begin_shutdown()
        assert self._shutdown is not None
        await asyncio.shield(self._shutdown)
        self.state = Health.STOPPING
        self._abandon_in_flight(self.settings.shutdown_grace)  # any that came in meanwhile
        if self.deliveries:
            # Terminal webhooks may be retrying; the HTTP client must outlive them.
            grace = self.settings.shutdown_grace
            _, left = await asyncio.wait(set(self.deliveries), timeout=grace)
            for delivery in left:
                delivery.cancel()
            if left:
                log.error(
                    "shutdown: gave up on %d terminal webhook(s) after %g s", len(left), grace
                )
        if self.channel is not None:
            self.channel.send(events.Shutdown())
        if self.process is not None and self.process.poll() is None:
            try:
                await asyncio.wait_for(asyncio.to_thread(self.process.wait), timeout=5)
            except asyncio.TimeoutError:  # not the builtin one before 3.11
                self.process.kill()
        if self._http is not None:
            await self._http.aclose()
        if self.tracing is not None:
            await asyncio.to_thread(self.tracing.shutdown)

    # -- health ----------------------------------------------------------------------------

    def health(self) -> Health:
        if self.state is Health.READY and self.slots <= 0:
            return Health.BUSY
        return self.state

    def serves_trainings(self) -> bool:
        schemas = (self.schema or {}).get("components", {}).get("schemas", {})
        return self.settings.has_train or "TrainingInput" in schemas

    def can_stream(self) -> bool:
        """Whether the model streams (`@cog.streaming`, as the worker or the schema says)."""
        return self.streams or declares_streaming(self.schema)

    def find(self, prediction_id: str | None) -> Prediction | None:
        """The prediction in flight with this id."""
        return self.predictions.get(prediction_id or "")

    async def user_healthcheck(self) -> str | None:
        """Run the model's healthcheck(); the error text, or None when healthy. Probes that
        arrive while one runs share its answer (a slow check is not run once per probe)."""
        if self.state is not Health.READY or self.channel is None:
            return None
        if self._healthcheck is None:
            self._healthcheck = asyncio.ensure_future(self._ask_healthcheck())
            self._healthcheck.add_done_callback(self._healthcheck_done)
        return await asyncio.shield(self._healthcheck)

    def _healthcheck_done(self, _: object) -> None:
        self._healthcheck = None

    async def _ask_healthcheck(self) -> str | None:
        assert self.channel is not None
        check_id = uuid.uuid4().hex
        waiter: asyncio.Future[events.HealthcheckResult] = (
            asyncio.get_running_loop().create_future()
        )
        self.health_waiters[check_id] = waiter
        self.channel.send(events.Healthcheck(check_id))
        try:
            result = await asyncio.wait_for(waiter, HEALTHCHECK_WAIT)
        except asyncio.TimeoutError:  # not the builtin one before 3.11
            return "healthcheck timed out"
        except WorkerCrashed:
            return None  # the status says it: DEFUNCT
        finally:
            self.health_waiters.pop(check_id, None)
        return None if result.healthy else f"Healthcheck failed: {result.error}"

    # -- predictions -----------------------------------------------------------------------

    def validator(self, component: Component) -> InputValidator | None:
        if self.schema is None:
            return None
        if component not in self.validators:
            self.validators[component] = InputValidator(self.schema, component)
        return self.validators[component]

    def submit(
        self,
        prediction: Prediction,
        context: dict[str, str],
        trace: dict[str, str] | None = None,
    ) -> None:
        """Send a validated prediction to the worker (raises Busy / NotReady); `trace`: the
        W3C context of its span, when tracing is on."""
        if self.crash is not None:
            raise WorkerCrashed(self.crash)
        if self.state is not Health.READY or self.channel is None:
            raise NotReady()
        if self.slots <= 0:
            raise Busy()
        self.slots -= 1
        # Named here, created (with its parents) by the worker only if it downloads inputs or
        # writes outputs; unique even when a client reuses a prediction id.
        prediction.submitted(
            os.path.join(WORKDIR_ROOT, f"{_safe(prediction.id)}-{_RUN_TOKEN}{next(_workdirs):x}")
        )
        self.predictions[prediction.id] = prediction
        self.channel.send(
            events.Predict(
                prediction.id, prediction.input, context, prediction.workdir, trace or {}
            )
        )
        for observer in self.observers:
            observer.submitted(prediction)
        if self.stopping:  # came in as the server began to shut down
            self.cancel(prediction.id)

    def cancel(self, prediction_id: str) -> bool:
        if prediction_id not in self.predictions or self.channel is None:
            return False
        self.channel.send(events.Cancel(prediction_id))
        return True

    def _route(self, prediction: Prediction, message: events.Message) -> None:
        """Apply one of a prediction's events, in order. Most apply at once; an output with
        files waits on a task to be read or uploaded, and later events queue behind it."""
        backlog = self.backlogs.get(prediction.id)
        if backlog is None and not _carries_files(message):
            self._apply(prediction, message)
            return
        if backlog is None:
            backlog = self.backlogs[prediction.id] = deque()
            self._spawn(self._drain(prediction, backlog))
        backlog.append(message)

    async def _drain(self, prediction: Prediction, backlog: deque[events.Message]) -> None:
        within = (
            contextlib.nullcontext() if self.tracing is None else self.tracing.within(prediction)
        )
        with within:  # its output files' spans are the prediction's children
            await self._drain_backlog(prediction, backlog)

    async def _drain_backlog(self, prediction: Prediction, backlog: deque[events.Message]) -> None:
        try:
            while backlog:
                message = backlog.popleft()
                try:
                    message = await self._resolve(message)
                except UploadError as exc:
                    prediction.fail(str(exc))
                    if not isinstance(message, events.Done):
                        continue  # the item is dropped; the prediction fails when it ends
                    message = dataclasses.replace(message, output=None, final=False)
                self._apply(prediction, message)
        finally:
            self.backlogs.pop(prediction.id, None)

    async def _resolve(self, message: events.Message) -> events.Message:
        """The message with the files in its output turned into data URLs or uploaded URLs."""
        if isinstance(message, events.Output):
            return dataclasses.replace(message, value=await self.files.resolve(message.value))
        if isinstance(message, events.Done) and message.final:
            return dataclasses.replace(message, output=await self.files.resolve(message.output))
        return message

    def _apply(self, prediction: Prediction, message: events.Message) -> None:
        if prediction.apply(message):
            self._release(prediction)

    def _release(self, prediction: Prediction) -> None:
        """A prediction has ended. Its waiters and streams run only after this returns, so the
        slot is free before anyone hears of the result: a client that sends its next request
        as soon as it has this response never finds the model busy."""
        self.slots += 1
        self.predictions.pop(prediction.id, None)
        if os.path.lexists(prediction.workdir):  # most predictions never make one
            shutil.rmtree(prediction.workdir, ignore_errors=True)
        for observer in self.observers:
            observer.ended(prediction)
        self.finish_webhook(prediction)

    def finish_webhook(self, prediction: Prediction) -> None:
        """Hand an ended prediction's terminal state to its followers (its webhook sender, a
        queue's responder); a shutdown waits for their deliveries (also for predictions that
        ended waiting for a slot)."""
        for follower in prediction.followers:
            delivery = follower.finish()
            if delivery is not None:
                self.deliveries.add(delivery)
                delivery.add_done_callback(self.deliveries.discard)

    # -- worker events ---------------------------------------------------------------------

    def _dispatch(self, message: events.Message) -> None:
        prediction_id = getattr(message, "id", None)
        if isinstance(message, events.Ready):
            self._ready(message)
        elif isinstance(message, events.SetupFailed):
            self._setup_failed(message.error)
        elif isinstance(message, events.HealthcheckResult):
            waiter = self.health_waiters.get(message.id)
            if waiter is not None and not waiter.done():
                waiter.set_result(message)
        elif (prediction := self.predictions.get(prediction_id or "")) is not None:
            self._route(prediction, message)
        elif isinstance(message, events.Log):
            self._worker_log(message)

    def _worker_log(self, message: events.Log) -> None:
        if self.state is Health.STARTING:
            self.setup.logs.append(message.data)
        stream = sys.stdout if message.source == "stdout" else sys.stderr
        stream.write(message.data)
        stream.flush()

    def _ready(self, message: events.Ready) -> None:
        self.schema = message.schema
        self.streams = message.streams
        if not self.settings.concurrency_set and message.concurrency:
            self.slots += message.concurrency - self.settings.concurrency
        if message.batch_size:  # nothing runs before Ready: self.slots is the slot count
            self.slots *= message.batch_size
        components: tuple[Component, ...] = ("Input", "TrainingInput")
        for component in components:  # compiled now, not on the first request
            self.validator(component)
        # What is alive now (modules, the app, schema, validators) lives as long as the server:
        # out of the collector's sight, a full collection takes microseconds, not milliseconds
        # that every request in flight would wait for.
        gc.freeze()
        self.state = Health.READY
        self.setup.status = Status.SUCCEEDED
        self.setup.completed_at = now()
        log.info("setup succeeded; ready for predictions")

    def _setup_failed(self, error: str) -> None:
        if self.state is not Health.STARTING:
            return
        self.state = Health.SETUP_FAILED
        self.setup.status = Status.FAILED
        self.setup.completed_at = now()
        if error.startswith("Traceback"):
            if error not in "".join(self.setup.logs):  # else the worker printed it already
                self.setup.logs.append(error)
            return
        log.error("setup failed: %s", error)
        self.setup.logs.append(f"Setup failed: {error}")

    async def _watch_process(self) -> None:
        assert self.process is not None
        code = await asyncio.to_thread(self.process.wait)
        if self.state is Health.STARTING:
            self._setup_failed(f"the worker exited during setup ({_how_it_ended(code)})")
            return
        if self.state is not Health.READY:
            return
        self.state = Health.DEFUNCT
        self.crash = (
            f"the model's worker process exited unexpectedly ({_how_it_ended(code)}); "
            "the model can no longer predict: restart the server"
        )
        log.error("%s", self.crash)
        for waiter in self.health_waiters.values():  # probes in flight answer now: DEFUNCT
            if not waiter.done():
                waiter.set_exception(WorkerCrashed(self.crash))
        for prediction in list(self.predictions.values()):
            self._route(
                prediction, events.Done(prediction.id, f"Worker crashed ({_how_it_ended(code)})")
            )


def _carries_files(message: events.Message) -> bool:
    if isinstance(message, events.Output):
        return _has_files(message.value)
    return isinstance(message, events.Done) and message.final and _has_files(message.output)


def _has_files(value: Any) -> bool:
    if isinstance(value, dict):
        return FILE_MARKER in value or any(_has_files(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_files(item) for item in value)
    return False


def _how_it_ended(code: int) -> str:
    """`exit code 3`, or `killed by signal SIGKILL` (Popen's negative return codes)."""
    if code >= 0:
        return f"exit code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = str(-code)
    return f"killed by signal {name}"


def _safe(prediction_id: str) -> str:
    """The id as a file name: its first 40 characters, each but `-_.` and alnum as `_`."""
    short = prediction_id[:40]
    if short.replace("-", "").replace("_", "").replace(".", "").isalnum():
        return short  # the usual id (`pred_…`): no character to replace, none looked at alone
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in short)
