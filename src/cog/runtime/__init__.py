"""The worker: the subprocess that imports user code and runs setup() and predictions.

events      every message between the server and the worker (the protocol vocabulary)
transport   length-prefixed JSON frames over a socket
inputs      coercion of JSON inputs by the schema's reading of the annotations (files, secrets)
outputs     encoding of return values and yields to JSON (files to the outputs dir)
logs        capture of stdout/stderr (Python and fd level) per prediction
attempt     one prediction from Predict to Done: context, Started, outcome, cancel states
runners     where predictions run: a thread and a queue (sync), tasks on one loop (async)
cancel      interrupting a running prediction (its thread or its task)
health      the model's healthcheck(): one loop, one executor, one timeout
predictor   the loaded predictor: setup, sync/async/generator calls
worker      the worker process's main loop (`python -m cog.runtime.worker`)
"""
