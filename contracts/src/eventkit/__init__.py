"""Shared infrastructure: event-store and bus ports, their adapters, the outbox relay.

Services import the ports (`eventkit.store`, `eventkit.bus`) and get adapters from their
composition root. Domain code never lives here.
"""
