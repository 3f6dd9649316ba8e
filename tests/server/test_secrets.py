"""Secret inputs never leave the server: not in responses, webhooks, events, errors or logs."""

import time

from .receiver import Receiver
from .test_async_and_streams import SSE, wait_until

TOKEN = "tok-PLAINTEXT-0451"
SPARE = "spare-PLAINTEXT-77"
LISTED = "listed-PLAINTEXT-9"
PLAINTEXTS = (TOKEN, SPARE, LISTED)
MASK = "**********"


class Recorder:
    """Every byte the server sends a client, kept to be searched for plaintexts."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def keep(self, response):
        self.sent.append(repr(dict(response.headers)).encode())
        self.sent.append(response.read())
        return response

    def assert_no_plaintext(self, *more: bytes) -> None:
        everything = b"\n".join([*self.sent, *more])
        assert everything, "nothing was recorded"
        for plaintext in PLAINTEXTS:
            assert plaintext.encode() not in everything, f"{plaintext} leaked"


def test_secrets_are_masked_everywhere_the_server_speaks(serve):
    recorder = Recorder()
    inputs = {"token": TOKEN, "spare": SPARE, "keys": [LISTED, LISTED]}
    with Receiver() as receiver, serve("secrets") as server, server.client() as client:
        keep = recorder.keep
        sync = keep(client.post("/predictions", json={"input": inputs}))
        assert sync.json()["status"] == "succeeded"
        assert sync.json()["output"] == f"ok:{len(TOKEN)}"  # the model got the plaintext
        assert sync.json()["input"] == {"token": MASK, "spare": MASK, "keys": [MASK, MASK]}

        failed = keep(client.post("/predictions", json={"input": {**inputs, "fail": True}}))
        assert failed.json()["status"] == "failed"
        assert failed.json()["input"]["token"] == MASK

        webhook = receiver.url + "/hook"
        body = {"id": "hooked", "input": inputs, "webhook": webhook}
        keep(client.post("/predictions", json=body, headers={"Prefer": "respond-async"}))
        wait_until(lambda: any(hook["status"] == "succeeded" for hook in receiver.webhooks))

        # PUT: created, then joined while it runs (the answer echoes the input), then after.
        put = {"input": {**inputs, "delay": 0.5}}
        async_put = {"Prefer": "respond-async"}
        keep(client.put("/predictions/put1", json=put, headers=async_put))
        joined = keep(client.put("/predictions/put1", json=put, headers=async_put))
        assert joined.json()["input"]["token"] == MASK
        server.wait_for("READY")
        assert keep(client.put("/predictions/put2", json=put)).json()["status"] == "succeeded"

        with client.stream("POST", "/predictions", json={"input": inputs}, headers=SSE) as sse:
            keep(sse)
        assert b"event: completed" in recorder.sent[-1]
        assert MASK.encode() in recorder.sent[-1]

        for refused in (
            {"token": [TOKEN]},
            {"token": TOKEN, "keys": [LISTED, 5]},
            {"token": {"value": TOKEN}},
            {"spare": SPARE},
            {"token": TOKEN, "text": "TOO LONG"},
        ):
            response = keep(client.post("/predictions", json={"input": refused}))
            assert response.status_code == 422
        keep(client.get("/health-check"))
        time.sleep(0.3)  # any webhook still in flight
    log = server.process.stdout.read().encode()
    assert len(receiver.bodies) >= 2
    recorder.assert_no_plaintext(*receiver.bodies, log)
