"""pytest plugin: a `amqp_url` fixture (filled in by the RabbitMQ adapter work)."""
