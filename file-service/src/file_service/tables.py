"""file-service's read-model table (SQLAlchemy Core); migrations live in file_service/migrations."""

from sqlalchemy import BigInteger, Column, Index, MetaData, Table, Text

metadata = MetaData()

file_views = Table(
    "file_views",
    metadata,
    Column("file_id", Text, primary_key=True),
    Column("filename", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("media_type", Text, nullable=False),
    Column("blob_key", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("origin", Text, nullable=False),
    Column("thread_id", Text, nullable=True),
    Column("run_id", Text, nullable=True),
    Column("profile", Text, nullable=True),
    Column("position", BigInteger, nullable=False),
    Index("file_views_thread_position", "thread_id", "position"),
)
