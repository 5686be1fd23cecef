"""Secrets from SSM Parameter Store laid over the environment (integration.secrets)."""
import logging
import sys

import pytest

from integration import secrets
from tests.fakes import Clock

PATH = "/gamefilm/production"


class FakeSsm:
    """GetParametersByPath over a dict of full parameter names, `page` per call."""

    def __init__(self, parameters: dict[str, str], page: int = 2):
        self.parameters = parameters
        self.page = page
        self.calls: list[dict] = []
        self.fail = False

    def get_parameters_by_path(self, **params):
        self.calls.append(params)
        if self.fail:
            raise ConnectionError("ssm unreachable")
        assert params["WithDecryption"] is True
        names = sorted(n for n in self.parameters if n.rsplit("/", 1)[0] == params["Path"])
        start = int(params.get("NextToken", 0))
        chunk = names[start : start + self.page]
        page = {"Parameters": [{"Name": n, "Type": "SecureString", "Value": self.parameters[n]} for n in chunk]}
        if start + self.page < len(names):
            page["NextToken"] = str(start + self.page)
        return page


@pytest.fixture(autouse=True)
def _fresh_cache():
    secrets.clear_cache()
    yield
    secrets.clear_cache()


def test_without_a_path_the_environment_is_returned_as_is_and_boto3_is_not_needed(monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)  # importing it would raise
    environ = {"HS_SECRET": "from-env"}
    assert secrets.environ_with_ssm(environ) is environ


def test_parameters_become_variables_named_by_their_last_segment_across_pages():
    ssm = FakeSsm({f"{PATH}/HS_SECRET": "s1", f"{PATH}/SF_KEY": "s2", f"{PATH}/SF_PEM": "s3", "/other/HS_TOKEN": "no"})
    env = secrets.environ_with_ssm({secrets.PATH_VARIABLE: PATH + "/", "KEEP": "k"}, client=ssm)
    assert (env["HS_SECRET"], env["SF_KEY"], env["SF_PEM"], env["KEEP"]) == ("s1", "s2", "s3", "k")
    assert "HS_TOKEN" not in env
    assert len(ssm.calls) == 2 and ssm.calls[0]["Path"] == PATH


def test_a_parameter_wins_over_an_environment_variable_of_the_same_name():
    ssm = FakeSsm({f"{PATH}/HS_SECRET": "rotated"})
    env = secrets.environ_with_ssm({secrets.PATH_VARIABLE: PATH, "HS_SECRET": "stale"}, client=ssm)
    assert env["HS_SECRET"] == "rotated"


def test_a_name_that_is_not_an_environment_variable_is_skipped_with_a_warning(caplog):
    ssm = FakeSsm({f"{PATH}/hubspot-secret": "value-must-not-be-logged"})
    with caplog.at_level(logging.WARNING, logger="integration.secrets"):
        env = secrets.environ_with_ssm({secrets.PATH_VARIABLE: PATH}, client=ssm)
    assert "hubspot-secret" not in env
    assert "hubspot-secret" in caplog.text and "value-must-not-be-logged" not in caplog.text


def test_values_are_read_once_per_container_until_they_are_max_age_old():
    ssm = FakeSsm({f"{PATH}/HS_SECRET": "v1"}, page=10)
    clock = Clock(1000.0)
    environ = {secrets.PATH_VARIABLE: PATH}
    secrets.environ_with_ssm(environ, client=ssm, clock=clock, max_age=300)
    clock.advance(299)
    assert secrets.environ_with_ssm(environ, client=ssm, clock=clock, max_age=300)["HS_SECRET"] == "v1"
    assert len(ssm.calls) == 1
    ssm.parameters[f"{PATH}/HS_SECRET"] = "v2"
    clock.advance(1)
    assert secrets.environ_with_ssm(environ, client=ssm, clock=clock, max_age=300)["HS_SECRET"] == "v2"
    assert len(ssm.calls) == 2


def test_a_failed_refresh_keeps_the_earlier_values_and_a_failed_first_read_raises(caplog):
    ssm = FakeSsm({f"{PATH}/HS_SECRET": "v1"}, page=10)
    clock = Clock(0.0)
    environ = {secrets.PATH_VARIABLE: PATH}
    ssm.fail = True
    with pytest.raises(secrets.SecretsError, match="/gamefilm/production: ConnectionError"):
        secrets.environ_with_ssm(environ, client=ssm, clock=clock)
    ssm.fail = False
    secrets.environ_with_ssm(environ, client=ssm, clock=clock)
    ssm.fail = True
    clock.advance(301)
    with caplog.at_level(logging.WARNING, logger="integration.secrets"):
        assert secrets.environ_with_ssm(environ, client=ssm, clock=clock)["HS_SECRET"] == "v1"
    assert "keeping the earlier values" in caplog.text


def test_the_resolver_is_a_live_view_that_sees_a_rotation_after_max_age():
    ssm = FakeSsm({f"{PATH}/HS_SECRET": "v1"}, page=10)
    clock = Clock(0.0)
    environ = {secrets.PATH_VARIABLE: PATH, "ONLY_ENV": "e", "EMPTY": ""}
    resolver = secrets.SecretResolver(environ, client=ssm, clock=clock, max_age=300)
    assert (resolver["HS_SECRET"], resolver.secret("ONLY_ENV"), resolver.secret("EMPTY"), resolver.secret(None)) == ("v1", "e", None, None)
    assert resolver.missing(["HS_SECRET", "EMPTY", "NOPE", None]) == ["EMPTY", "NOPE"]
    assert resolver.describe() == f"SSM parameters under {PATH} over the environment"
    ssm.parameters[f"{PATH}/HS_SECRET"] = "v2"
    clock.advance(301)
    assert resolver.get("HS_SECRET") == "v2" and len(ssm.calls) == 2


def test_tenant_secret_reads_through_the_resolver_by_default(monkeypatch):
    from integration.config import Tenant

    monkeypatch.setenv(secrets.PATH_VARIABLE, PATH)
    monkeypatch.setattr(secrets, "_read", lambda path, client: {"HS_TOKEN": "from-ssm"} if path == PATH else {})
    tenant = Tenant(id="t1", crm="hubspot", dry_run=True, access_token_env="HS_TOKEN")
    assert tenant.secret("HS_TOKEN") == "from-ssm"
    assert tenant.secret("HS_TOKEN", {"HS_TOKEN": "explicit"}) == "explicit"
    shared = secrets.SecretResolver()
    assert secrets.resolver(shared) is shared  # one resolver is passed on, not wrapped again
