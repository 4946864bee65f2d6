"""Spans and their export: off by default, `CIE_TRACE_EXPORTER=otlp` or `console` to turn on.

With the exporter `none` nothing is installed: the OpenTelemetry API stays a no-op whose spans
cost next to nothing, and incoming trace context still travels on (`eventkit.ops.trace`). With
`otlp`, spans go in batches over OTLP/HTTP to `OTEL_EXPORTER_OTLP_ENDPOINT` (or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; the exporter reads those itself, and the batch processor
the `OTEL_BSP_*` variables); `console` prints them to stderr.
"""

import sys
from collections.abc import Callable
from typing import Literal

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.util.types import Attributes
from pydantic_settings import BaseSettings, SettingsConfigDict

MUTED_INSTRUMENTATION = frozenset({"fastapi"})
"""Libraries whose own spans we leave out. FastAPI (0.165+) traces every request by itself once a
provider is installed: a second server span beside CorrelationMiddleware's, plus spans for
dependencies, endpoint and serialization, and for the health probes too."""


class TracingSettings(BaseSettings):
    """Read once, in each service's main()."""

    model_config = SettingsConfigDict(env_prefix="CIE_", extra="ignore")

    trace_exporter: Literal["none", "otlp", "console"] = "none"


class ServiceTracerProvider(TracerProvider):
    """The SDK's provider, minus the spans of `MUTED_INSTRUMENTATION` (no-op tracers for them:
    their context still propagates)."""

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes = None,
    ) -> trace.Tracer:
        if instrumenting_module_name in MUTED_INSTRUMENTATION:
            return trace.NoOpTracer()
        return super().get_tracer(
            instrumenting_module_name, instrumenting_library_version, schema_url, attributes
        )


def configure_tracing(
    service_name: str, settings: TracingSettings | None = None
) -> Callable[[], None]:
    """Install a tracer provider exporting spans, if an exporter is configured.

    Returns what to call when the process stops: it exports the spans still buffered (a no-op
    when nothing was installed). Raises pydantic's ValidationError for an unknown exporter.
    """
    settings = settings if settings is not None else TracingSettings()
    if settings.trace_exporter == "none":
        return _nothing
    exporter: SpanExporter
    if settings.trace_exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    else:
        exporter = ConsoleSpanExporter(out=sys.stderr)
    provider = ServiceTracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider.shutdown


def _nothing() -> None:
    pass
