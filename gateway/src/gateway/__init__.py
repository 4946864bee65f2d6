"""gateway: the HTTP API of spec/API.md. Sends commands, answers from read models."""
