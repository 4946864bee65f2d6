"""Message contracts: every command and event that crosses a process boundary.

Depends on pydantic only; never imports eventkit, SQLAlchemy or aio-pika (a test guards this).
"""
