#!/usr/bin/env python3
"""Checks every envoy/*/envoy.yaml against Envoy's v3 API without running Envoy.

Each file is loaded into the bootstrap message of the PyPI package `envoy-data-plane` (Python
classes generated from Envoy's API protos), which refuses unknown fields and enum values at any
depth, inside `typed_config` too, once the module of every `@type` in the file is imported. On top
of that, the file must load the filter the way this project needs it:

- `envoy.filters.http.wasm` on the V8 runtime, from a local `oidc_filter.wasm`, with the filter
  configuration as a `google.protobuf.StringValue` holding a JSON object;
- the router as the last HTTP filter;
- a cluster for every route and for every provider's `cluster`, the IdP ones with an upstream TLS
  transport socket (SNI and a CA bundle) on port 443.

The filter configuration itself is parsed by the filter's own parser in
filter/core/tests/deploy_configs.rs.

`--self-test` proves that the check bites: it mutates copies of each file (a misspelt field at the
top, inside `typed_config` and inside the TLS context, a misspelt enum value, an unknown `@type`,
a provider cluster that does not exist) and fails unless every mutation is refused.

Usage: check.py [--self-test] [FILE...]   (default: every envoy/*/envoy.yaml)
"""

import importlib
import json
import pathlib
import sys

import yaml
from envoy_data_plane.envoy.config.bootstrap.v3 import Bootstrap

HERE = pathlib.Path(__file__).resolve().parent
WASM_FILTER = "envoy.filters.http.wasm"
ROUTER = "envoy.filters.http.router"
TYPE_PREFIX = "type.googleapis.com/"
STRING_VALUE = TYPE_PREFIX + "google.protobuf.StringValue"


class Invalid(Exception):
    """The file is not a configuration Envoy would accept, or not one that loads the filter."""


def type_urls(node):
    """Every `@type` in the document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "@type" and isinstance(value, str):
                yield value
            else:
                yield from type_urls(value)
    elif isinstance(node, list):
        for item in node:
            yield from type_urls(item)


def register_types(doc):
    """Imports the generated module of each `@type`, which registers its messages for `Any`."""
    for url in set(type_urls(doc)):
        if not url.startswith(TYPE_PREFIX):
            raise Invalid(f"@type {url!r}: expected {TYPE_PREFIX}<package>.<Message>")
        package, _, message = url[len(TYPE_PREFIX):].rpartition(".")
        try:
            module = importlib.import_module("envoy_data_plane." + package)
        except ImportError as e:
            raise Invalid(f"@type {url!r}: no such package in Envoy's API ({e})") from None
        if not hasattr(module, message):
            raise Invalid(f"@type {url!r}: no message {message} in {package}")


def validate_api(doc):
    register_types(doc)
    try:
        Bootstrap().from_dict(doc)
    except Exception as e:  # the package raises KeyError, ValueError, TypeError...
        raise Invalid(f"not valid against Envoy's v3 API: {type(e).__name__}: {e}") from None


def http_connection_managers(doc):
    for listener in doc.get("static_resources", {}).get("listeners", []):
        for chain in listener.get("filter_chains", []):
            for net_filter in chain.get("filters", []):
                config = net_filter.get("typed_config", {})
                if config.get("@type", "").endswith(".HttpConnectionManager"):
                    yield config


def route_clusters(hcm):
    for vhost in hcm.get("route_config", {}).get("virtual_hosts", []):
        for route in vhost.get("routes", []):
            cluster = route.get("route", {}).get("cluster")
            if cluster:
                yield cluster


def filter_configuration(wasm):
    """The filter's JSON document from a `envoy.filters.http.wasm` typed_config."""
    plugin = wasm.get("typed_config", {}).get("config", {})
    vm = plugin.get("vm_config", {})
    if vm.get("runtime") != "envoy.wasm.runtime.v8":
        raise Invalid("wasm filter: vm_config.runtime must be envoy.wasm.runtime.v8")
    filename = vm.get("code", {}).get("local", {}).get("filename", "")
    if not filename.endswith("/oidc_filter.wasm"):
        raise Invalid("wasm filter: vm_config.code.local.filename must name oidc_filter.wasm")
    configuration = plugin.get("configuration", {})
    if configuration.get("@type") != STRING_VALUE:
        raise Invalid(f"wasm filter: configuration must be a {STRING_VALUE}")
    try:
        document = json.loads(configuration.get("value", ""))
    except ValueError as e:
        raise Invalid(f"wasm filter: configuration value is not JSON: {e}") from None
    if not isinstance(document, dict):
        raise Invalid("wasm filter: configuration value must be a JSON object")
    return document


def check_idp_cluster(cluster):
    name = cluster["name"]
    socket = cluster.get("transport_socket", {}).get("typed_config", {})
    if not socket.get("@type", "").endswith(".UpstreamTlsContext"):
        raise Invalid(f"cluster {name}: an IdP cluster needs an UpstreamTlsContext")
    if not socket.get("sni"):
        raise Invalid(f"cluster {name}: an IdP cluster needs `sni`")
    validation = socket.get("common_tls_context", {}).get("validation_context", {})
    if not validation.get("trusted_ca"):
        raise Invalid(f"cluster {name}: an IdP cluster needs validation_context.trusted_ca")
    ports = [
        lb["endpoint"]["address"]["socket_address"].get("port_value")
        for eps in cluster.get("load_assignment", {}).get("endpoints", [])
        for lb in eps.get("lb_endpoints", [])
    ]
    if not ports or any(port != 443 for port in ports):
        raise Invalid(f"cluster {name}: IdP endpoints must be on port 443, got {ports}")


def validate_filter_wiring(doc):
    clusters = {c.get("name"): c for c in doc.get("static_resources", {}).get("clusters", [])}
    hcms = list(http_connection_managers(doc))
    if not hcms:
        raise Invalid("no HTTP connection manager")
    wasm_filters = 0
    for hcm in hcms:
        http_filters = hcm.get("http_filters", [])
        names = [f.get("name") for f in http_filters]
        if not names or names[-1] != ROUTER:
            raise Invalid(f"http_filters must end with {ROUTER}, got {names}")
        for cluster in route_clusters(hcm):
            if cluster not in clusters:
                raise Invalid(f"route to undefined cluster {cluster!r}")
        for wasm in (f for f in http_filters if f.get("name") == WASM_FILTER):
            wasm_filters += 1
            for i, provider in enumerate(filter_configuration(wasm).get("providers", [])):
                target = provider.get("cluster")
                if target is None:
                    raise Invalid(f"providers[{i}]: Envoy needs `cluster` naming an Envoy cluster")
                if target not in clusters:
                    raise Invalid(f"providers[{i}].cluster: no Envoy cluster named {target!r}")
                check_idp_cluster(clusters[target])
    if wasm_filters == 0:
        raise Invalid(f"no {WASM_FILTER} filter")


def check_text(text):
    doc = yaml.safe_load(text)
    if not isinstance(doc, dict):
        raise Invalid("not a YAML mapping")
    validate_api(doc)
    validate_filter_wiring(doc)


# (description, text to replace, replacement): each must make a valid file invalid.
MUTATIONS = [
    ("misspelt top-level field", "static_resources:", "static_resource:"),
    ("misspelt field inside the wasm typed_config", "vm_config:", "vm_confg:"),
    ("misspelt field inside the TLS context", "trusted_ca:", "trusted_cert:"),
    ("misspelt field inside the HTTP connection manager", "http_filters:", "http_filter:"),
    ("misspelt enum value", "type: LOGICAL_DNS", "type: LOGICAL_DNZ"),
    (
        "unknown @type",
        "envoy.extensions.filters.http.wasm.v3.Wasm",
        "envoy.extensions.filters.http.wasm.v3.Wasn",
    ),
    ("provider cluster that does not exist", '"cluster": "', '"cluster": "missing_'),
]


def self_test(path, text):
    """Fails unless every mutation of a valid file is refused."""
    failures = []
    for description, old, new in MUTATIONS:
        if old not in text:
            failures.append(f"{path}: cannot apply mutation ({description}): {old!r} not found")
            continue
        mutated = text.replace(old, new, 1)
        try:
            check_text(mutated)
        except Invalid as e:
            print(f"  refused as expected ({description}): {e}")
        else:
            failures.append(f"{path}: {description} was accepted")
    return failures


def main(argv):
    run_self_test = "--self-test" in argv
    files = [pathlib.Path(a) for a in argv if a != "--self-test"]
    if not files:
        files = sorted(HERE.glob("*/envoy.yaml"))
    if not files:
        print("check.py: no envoy.yaml files found", file=sys.stderr)
        return 1
    failures = []
    for path in files:
        text = path.read_text()
        try:
            check_text(text)
            print(f"ok: {path}")
        except Invalid as e:
            failures.append(f"{path}: {e}")
            continue
        if run_self_test:
            failures += self_test(path, text)
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    passed = len(files) - len({f.split(":")[0] for f in failures})
    print(f"{passed} passed, {len(files) - passed} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
