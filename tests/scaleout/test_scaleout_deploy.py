"""The deployment files under deploy/ stay true: each shard's config passes ``mdi config
check``, every shard is one pod with /health probes, and the systemd unit and the image run
``mdi run`` on the file they document."""

from __future__ import annotations

from pathlib import Path

import yaml

from mdi.cli.common import load_graph

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def manifests() -> list[dict]:  # type: ignore[type-arg]
    docs: list[dict] = []  # type: ignore[type-arg]
    for path in sorted((DEPLOY / "kubernetes").glob("shard-*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def test_each_shard_config_passes_mdi_config_check(tmp_path: Path) -> None:
    configs = [d for d in manifests() if d["kind"] == "ConfigMap"]
    assert configs
    for config_map in configs:
        path = tmp_path / f"{config_map['metadata']['name']}.toml"
        path.write_text(config_map["data"]["config.toml"])
        _, graph = load_graph(path)  # what `mdi config check` runs; exits 2 on a problem
        assert {n.name for n in graph.nodes()} >= {"parquet", "redis"}
        assert 'instance = "' in path.read_text() and 'cluster = true' in path.read_text()


def test_each_shard_is_one_pod_probed_on_health_and_scraped() -> None:
    sets = [d for d in manifests() if d["kind"] == "StatefulSet"]
    assert sets
    for workload in sets:
        assert workload["spec"]["replicas"] == 1  # one instance name, one process
        pod = workload["spec"]["template"]
        (container,) = pod["spec"]["containers"]
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["path"] == "/health"
        assert pod["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"
        assert pod["spec"]["terminationGracePeriodSeconds"] > 30  # supervisor.shutdown_timeout
    scrape = yaml.safe_load((DEPLOY / "kubernetes" / "prometheus-scrape.yaml").read_text())
    assert scrape["scrape_configs"][0]["metrics_path"] == "/metrics"


def test_systemd_unit_and_image_run_mdi_on_their_config() -> None:
    unit = (DEPLOY / "systemd" / "mdi@.service").read_text()
    assert "ExecStart=/opt/mdi/bin/mdi run /etc/mdi/%i.toml" in unit
    assert "RestartPreventExitStatus=2" in unit  # a bad config is not retried
    image = (DEPLOY / "docker" / "Dockerfile").read_text()
    assert 'CMD ["run", "/etc/mdi/config.toml"]' in image and "'.[s3]'" in image
