"""The gateway's read-model tables (SQLAlchemy Core); migrations live in gateway/migrations."""

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, Table, Text

metadata = MetaData()

thread_views = Table(
    "thread_views",
    metadata,
    Column("thread_id", Text, primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
)

message_views = Table(
    "message_views",
    metadata,
    Column("message_id", Text, primary_key=True),
    Column("thread_id", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("role", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("annotations", Text, nullable=False, server_default="[]"),
    Column("created_at", BigInteger, nullable=False),
    Index("message_views_thread_version", "thread_id", "version", unique=True),
)
