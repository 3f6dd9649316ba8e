"""The server's log line at the end of each prediction, with its id (`prediction_id` in JSON
lines): how it ended and, when it failed, why (the model raised, an output upload failed, the
worker crashed). An observer of the supervisor."""

from __future__ import annotations

import logging

from .prediction import Prediction, Status

log = logging.getLogger("cog.server")


class PredictionLog:
    """Logs each prediction's end: failures and cancels at INFO (as Cog), successes at DEBUG
    (Cog logs them at INFO: a line per prediction would be most of a busy server's output)."""

    def submitted(self, prediction: Prediction) -> None:
        pass

    def ended(self, prediction: Prediction) -> None:
        status = prediction.status
        if status is Status.SUCCEEDED:
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "%s succeeded in %.3f s",
                    prediction.kind,
                    prediction.metrics.get("predict_time", 0.0),
                    extra={"prediction_id": prediction.id},
                )
        elif status is Status.FAILED:
            log.info(
                "%s failed: %s",
                prediction.kind,
                prediction.error,
                extra={"prediction_id": prediction.id},
            )
        else:
            log.info("%s canceled", prediction.kind, extra={"prediction_id": prediction.id})
