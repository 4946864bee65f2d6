"""Root pytest configuration: shared fixtures for real infrastructure.

`postgres_url` and `amqp_url` come from eventkit's testing plugins. They use, in order:
CIE_TEST_POSTGRES_URL / CIE_TEST_AMQP_URL, the local services if they answer, then
testcontainers when a Docker engine answers; and fail (never skip) under CI=true when nothing
answers (eventkit/testing/services.py).
"""

pytest_plugins = ["eventkit.testing.postgres_fixtures", "eventkit.testing.rabbit_fixtures"]
