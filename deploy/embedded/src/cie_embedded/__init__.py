"""The embedded default: gateway, thread-service and the relay in one process.

The only place that imports more than one service: it is the composition root of the whole
system when it runs as one process, with the in-memory bus and SQLite under ./data.
"""
