"""Every Prometheus metric the system exports, in one place (one registry per process).

In the embedded mode all services share the process, so names describe the domain, not the
service; the HTTP histogram carries a `service` label.
"""

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUEST_SECONDS = Histogram(
    "cie_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["service", "method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120),
)
RUNS = Counter("cie_runs_total", "Runs that ended, by outcome", ["outcome"])
RUN_SECONDS = Histogram(
    "cie_run_duration_seconds",
    "Time from run.started to its end, by outcome",
    ["outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900),
)
CODE_EXECUTIONS = Counter(
    "cie_code_executions_total", "Code executions in the sandbox, by outcome", ["outcome"]
)
SANDBOX_SESSIONS = Gauge(
    "cie_sandbox_sessions", "Sandbox sessions: bound to a thread (live) or warm", ["state"]
)
RELAY_LAG = Gauge("cie_relay_lag_events", "Events committed to the store but not yet published")
RUN_PARTITIONS_HELD = Gauge(
    "cie_run_partitions_held", "Run partitions this run-service replica consumes"
)
RELAY_PUBLISHED = Counter("cie_relay_published_total", "Events the relay published")
REDELIVERIES = Counter(
    "cie_consumer_redeliveries_total", "Deliveries the broker marked as redelivered", ["queue"]
)
DEAD_LETTERS = Counter(
    "cie_dead_letters_total", "Messages given up on and dead-lettered, by queue", ["queue"]
)
COMMANDS = Counter(
    "cie_commands_total", "Commands handled, by type and outcome", ["type", "outcome"]
)
