"""file-service: durable blobs behind a port, file metadata as events, an internal HTTP API."""
