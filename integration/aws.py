"""boto3 clients for the AWS services Game Film calls (DynamoDB, SQS, SSM), cheap on a cold start.

`boto3.client()` on a new session spends ~70 ms of a Lambda cold start finding and parsing
botocore's data: it lists every service directory botocore ships (~440) and each one's API
versions just to check that the name exists, and parses endpoints.json (1.2 MB) and the
service model with an OrderedDict hook (~4x slower than orjson). The one session here uses a
loader that looks only at the services below and parses with orjson into plain dicts (which
keep key order too): same botocore, same data files, search paths (AWS_DATA_PATH included),
credentials chain, handlers and config, so the clients behave the same; they are built in about
half the time, and the session's parsed endpoints and handlers are shared by all three.
"""
from __future__ import annotations

import gzip
import os
import threading
from typing import Any

import boto3
import botocore.session
import orjson
from botocore.loaders import JSONFileLoader, Loader, instance_cache

SERVICES = frozenset({"dynamodb", "sqs", "ssm"})

_lock = threading.Lock()
_session: boto3.Session | None = None


def client(service: str, **kwargs: Any) -> Any:
    """`boto3.client(service, **kwargs)`, from the shared session; only for SERVICES."""
    if service not in SERVICES:
        raise ValueError(f"integration.aws builds clients for {', '.join(sorted(SERVICES))} only, not {service!r}")
    with _lock:  # a boto3 session is not thread-safe; its clients are
        return _shared_session().client(service, **kwargs)


def _shared_session() -> boto3.Session:
    global _session
    if _session is None:
        core = botocore.session.get_session()
        core.register_component("data_loader", loader(core.get_config_variable("data_path")))
        _session = boto3.Session(botocore_session=core)  # adds boto3's data path and handlers, as boto3.client does
    return _session


class DictJSONFileLoader(JSONFileLoader):
    """JSONFileLoader parsing with orjson into dicts, not json with an OrderedDict hook."""

    def load_file(self, file_path: str) -> Any:
        for ext, opener in ((".json", open), (".json.gz", gzip.open)):  # botocore's order
            if os.path.isfile(file_path + ext):
                with opener(file_path + ext, "rb") as fh:
                    return orjson.loads(fh.read())
        return None


class ServicesLoader(Loader):
    """botocore's Loader that knows SERVICES only, so it never lists the other ~440."""

    @instance_cache
    def list_available_services(self, type_name: str) -> list[str]:
        return sorted(s for s in SERVICES if any(self._has(path, s, type_name) for path in self.search_paths))

    def _has(self, path: str, service: str, type_name: str) -> bool:
        directory = os.path.join(path, service)
        return os.path.isdir(directory) and any(
            self.file_loader.exists(os.path.join(directory, version, type_name)) for version in os.listdir(directory)
        )


def loader(data_path: str | None = None) -> ServicesLoader:
    """What botocore.loaders.create_loader builds (AWS_DATA_PATH first), narrowed to SERVICES."""
    extra = [os.path.expanduser(os.path.expandvars(p)) for p in data_path.split(os.pathsep)] if data_path else None
    return ServicesLoader(extra_search_paths=extra, file_loader=DictJSONFileLoader())
