"""Operations for every service: health and readiness probes, metrics, JSON logs, trace context."""
