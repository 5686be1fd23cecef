"""integration.aws builds the same boto3 clients as boto3.client(), from the same botocore data,
while looking only at the services Game Film calls (a Lambda cold start cost, bench/cold_start.py)."""
from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import DataNotFoundError, UnknownServiceError
from botocore.loaders import create_loader

from integration import aws

MODEL_TYPES = ("service-2", "endpoint-rule-set-1", "paginators-1", "waiters-2")


def _same(a: object, b: object) -> bool:
    """Equal values with keys in the same order (plain dicts here, OrderedDicts in botocore)."""
    return json.dumps(a) == json.dumps(b)


def test_the_loader_serves_botocores_own_data_in_the_same_order():
    ours, botocores = aws.loader(), create_loader()
    for name in ("endpoints", "partitions", "sdk-default-configuration", "_retry"):
        assert _same(ours.load_data(name), botocores.load_data(name)), name
    compared = 0
    for service in sorted(aws.SERVICES):
        for type_name in MODEL_TYPES:
            try:
                expected = botocores.load_service_model(service, type_name)
            except DataNotFoundError:
                continue
            assert _same(ours.load_service_model(service, type_name), expected), (service, type_name)
            compared += 1
    assert compared >= 8  # each service's model and endpoint rules at least


def test_the_loader_knows_exactly_the_services_botocore_has_among_ours():
    ours, botocores = aws.loader(), create_loader()
    for type_name in MODEL_TYPES:
        assert ours.list_available_services(type_name) == sorted(aws.SERVICES & set(botocores.list_available_services(type_name)))
    with pytest.raises(UnknownServiceError):
        ours.load_service_model("s3", "service-2")


def test_aws_data_path_is_searched_first_as_botocore_does(tmp_path):
    newer = tmp_path / "sqs" / "2099-01-01"
    newer.mkdir(parents=True)
    (newer / "paginators-1.json").write_text('{"pagination": {"ListQueues": {"result_key": "QueueUrls"}}}')
    ours, botocores = aws.loader(str(tmp_path)), create_loader(str(tmp_path))
    assert ours.search_paths[0] == botocores.search_paths[0] == str(tmp_path)
    assert ours.load_service_model("sqs", "paginators-1") == botocores.load_service_model("sqs", "paginators-1")
    assert ours.load_service_model("sqs", "paginators-1")["pagination"]["ListQueues"] == {"result_key": "QueueUrls"}


@pytest.mark.parametrize("service", sorted(aws.SERVICES))
@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"])
def test_clients_match_what_boto3_client_builds(service, region):
    ours = aws.client(service, region_name=region)
    theirs = boto3.session.Session().client(service, region_name=region)
    assert ours.meta.endpoint_url == theirs.meta.endpoint_url
    assert ours.meta.region_name == theirs.meta.region_name
    assert ours.meta.partition == theirs.meta.partition
    assert ours.meta.service_model.operation_names == theirs.meta.service_model.operation_names
    assert ours.meta.config.user_agent == theirs.meta.config.user_agent and ours._service_model.signature_version == theirs._service_model.signature_version
    assert ours.can_paginate("query" if service == "dynamodb" else "list_queues" if service == "sqs" else "get_parameters_by_path")
    ours.close()
    theirs.close()


def test_other_services_are_refused_by_name():
    with pytest.raises(ValueError, match="not 's3'"):
        aws.client("s3")
