"""The worker: the subprocess that imports user code and runs setup() and predictions.

events      every message between the server and the worker (the protocol vocabulary)
transport   length-prefixed JSON frames over a socket
inputs      coercion of JSON inputs to the predictor's annotations (files, secrets)
outputs     encoding of return values and yields to JSON (files to the outputs dir)
logs        capture of stdout/stderr (Python and fd level) per prediction
cancel      interrupting a running synchronous prediction
predictor   the loaded predictor: setup, sync/async/generator calls
worker      the worker process's main loop (`python -m cog.runtime.worker`)
"""
