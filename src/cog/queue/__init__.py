"""Queue workers: the prediction server taking work from a Redis stream as well as over HTTP.

`settings` the flags, `keys` the names on Redis, `requests` what an entry asks for, `responses`
writing a prediction's state back, `cancel` watching cancel keys, `dead_letter` entries that
keep failing, `consumer` reading, claiming and acknowledging, `worker` the whole, started by the
server in queue mode. Only `consumer`, `responses`, `cancel`, `dead_letter` and `worker` import
redis (its asyncio client), and only the server in queue mode imports them.
"""
