"""The playground: a web page that runs a model from its schema.

A small Starlette app (`app.py`) serves the page's static assets (shipped in the package, no
CDN, no build step), proxies `/api/...` to the model server so the model needs no CORS
(`proxy.py`), and relays the webhooks of async runs back to the page as Server-Sent Events
(`relay.py`). `server.py` runs it on a port in a background thread for the CLI.
"""
