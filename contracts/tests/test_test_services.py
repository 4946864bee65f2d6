"""Where the test fixtures take PostgreSQL and RabbitMQ from (eventkit.testing.services).

No Docker and no servers: the choice is a pure function of what was probed, and the probes
are fakes here.
"""

from typing import Any

import pytest

from eventkit.testing import services
from eventkit.testing.postgres_fixtures import POSTGRES
from eventkit.testing.rabbit_fixtures import RABBITMQ
from eventkit.testing.services import (
    Decision,
    ServiceSpec,
    Source,
    choose,
    container_failed_message,
    decide,
    in_ci,
    not_answering_message,
    nothing_message,
    start_container,
    unavailable,
)

DEFAULT = "amqp://guest:guest@127.0.0.1:5672/"
FROM_ENV = "amqp://someone:secret@broker.example:5673/"
SPECS = [POSTGRES, RABBITMQ]


@pytest.mark.parametrize("local", [True, False])
@pytest.mark.parametrize("docker", [True, False])
@pytest.mark.parametrize("ci", [True, False])
def test_the_url_in_the_environment_comes_first(local: bool, docker: bool, ci: bool) -> None:
    decision = decide(FROM_ENV, local, docker, default_url=DEFAULT, ci=ci)
    assert decision == Decision(Source.ENV, FROM_ENV, ci)


@pytest.mark.parametrize("env_url", [None, ""])
def test_a_local_service_that_answers_goes_before_docker(env_url: str | None) -> None:
    # The defect: a Docker engine answered, no registry did, and testcontainers was chosen over
    # the PostgreSQL and RabbitMQ running here.
    decision = decide(env_url, True, True, default_url=DEFAULT, ci=False)
    assert decision == Decision(Source.LOCAL, DEFAULT, False)
    assert decide(env_url, True, False, default_url=DEFAULT, ci=False) == decision


def test_testcontainers_when_nothing_local_answers_and_docker_does() -> None:
    decision = decide(None, False, True, default_url=DEFAULT, ci=False)
    assert decision == Decision(Source.CONTAINER, None, False)


def test_nothing_available_skips_locally() -> None:
    decision = decide(None, False, False, default_url=DEFAULT, ci=False)
    assert decision == Decision(Source.NONE, None, False)
    with pytest.raises(pytest.skip.Exception, match="no RabbitMQ for the tests"):
        unavailable(nothing_message(RABBITMQ), fail=decision.fail)


def test_nothing_available_fails_under_ci_never_skips() -> None:
    decision = decide(None, False, False, default_url=DEFAULT, ci=in_ci({"CI": "true"}))
    assert decision.source is Source.NONE
    assert decision.fail
    with pytest.raises(pytest.fail.Exception, match="no PostgreSQL for the tests") as raised:
        unavailable(nothing_message(POSTGRES), fail=decision.fail)
    assert not isinstance(raised.value, pytest.skip.Exception)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [({"CI": "true"}, True), ({"CI": "false"}, False), ({"CI": "1"}, False), ({}, False)],
)
def test_ci_means_ci_true(environ: dict[str, str], expected: bool) -> None:
    assert in_ci(environ) is expected


class Probes:
    """Fake probes that record what was asked."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, local: bool, docker: bool) -> None:
        self.asked: list[str] = []
        self.local, self.docker = local, docker
        monkeypatch.setattr(services, "docker_answers", self.docker_answers)

    async def local_answers(self, url: str) -> bool:
        self.asked.append(f"local {url}")
        return self.local

    def docker_answers(self) -> bool:
        self.asked.append("docker")
        return self.docker


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
async def test_choose_probes_only_what_it_needs(
    spec: ServiceSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    probes = Probes(monkeypatch, local=True, docker=True)
    environ = {spec.env_var: FROM_ENV, "CI": "true"}
    assert await choose(spec, probes.local_answers, environ) == Decision(Source.ENV, FROM_ENV, True)
    assert probes.asked == []

    decision = await choose(spec, probes.local_answers, {})
    assert decision == Decision(Source.LOCAL, spec.default_url, False)
    assert probes.asked == [f"local {spec.default_url}"]  # Docker not even asked

    probes.asked.clear()
    probes.local = False
    decision = await choose(spec, probes.local_answers, {spec.env_var: ""})
    assert decision == Decision(Source.CONTAINER, None, False)
    assert probes.asked == [f"local {spec.default_url}", "docker"]

    probes.docker = False
    decision = await choose(spec, probes.local_answers, {"CI": "true"})
    assert decision == Decision(Source.NONE, None, True)


class UnpullableContainer:
    """A testcontainers container whose image cannot be pulled."""

    def __init__(self) -> None:
        self.stopped = False

    def start(self) -> Any:
        raise RuntimeError(
            "pull access denied: dial tcp: lookup registry-1.docker.io: no such host"
        )

    def stop(self) -> None:
        self.stopped = True


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
@pytest.mark.parametrize("fail", [True, False], ids=["CI", "local"])
def test_a_container_that_does_not_start_says_so(spec: ServiceSpec, fail: bool) -> None:
    container = UnpullableContainer()
    outcome = pytest.fail.Exception if fail else pytest.skip.Exception
    with pytest.raises(outcome) as raised:
        start_container(spec, lambda: container, fail=fail)
    assert isinstance(raised.value, pytest.skip.Exception) is not fail
    message = str(raised.value)
    assert f"testcontainers could not start a {spec.image} container for {spec.name}" in message
    assert "no such host" in message
    assert spec.env_var in message
    assert container.stopped  # nothing left behind


def test_no_docker_client_for_testcontainers_says_so() -> None:
    def no_client() -> Any:
        raise OSError("Error while fetching server API version")

    with pytest.raises(pytest.skip.Exception, match="testcontainers could not start"):
        start_container(POSTGRES, no_client, fail=False)


def test_messages_never_show_a_password() -> None:
    spec = ServiceSpec("RabbitMQ", "CIE_TEST_AMQP_URL", FROM_ENV, "rabbitmq:3.10")
    shown = [
        nothing_message(spec),
        not_answering_message(spec, Source.ENV, FROM_ENV, OSError("refused")),
        not_answering_message(spec, Source.CONTAINER, FROM_ENV, OSError("refused")),
        container_failed_message(spec, RuntimeError("pull failed")),
    ]
    for message in shown:
        assert "secret" not in message
        assert "broker.example:5673" in message
    assert "CIE_TEST_AMQP_URL" in shown[1]
    assert "container started but does not answer" in shown[2]
