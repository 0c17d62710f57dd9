"""``deploy/prometheus/mdi-alerts.yml``: valid for Prometheus, and every metric it names is one a
running mdi really exports (scraped from a real ``mdi demo`` process's /metrics)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import yaml

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "mdi-alerts.yml"
RULES_TESTS = RULES.with_name("mdi-alerts.test.yml")
PROMTOOL = shutil.which("promtool")
# Series Prometheus makes itself for every target, not exported by any exporter.
PROMETHEUS_OWN = {"up"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"}
WAIT = 45.0


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions, keywords,
    label names (inside ``{...}`` or a ``by/on/group_left(...)`` list), strings or durations."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", text):
        name, call = match.group(1), match.group(2)
        if not call and name not in KEYWORDS:
            names.add(name)
    return names


def exported_names(text: str) -> set[str]:
    """Every family and sample name in a Prometheus text exposition (families without samples,
    such as a drops counter before any drop, count: their ``# TYPE`` line says they exist)."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()[:4]
            names.add(name)
            if kind == "histogram":
                names.update(name + suffix for suffix in ("_bucket", "_sum", "_count"))
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names


def test_metric_names_are_extracted_from_promql() -> None:
    expr = 'histogram_quantile(0.99, sum by (le, sink) (rate(mdi_x_bucket{sink="a b", q=~"x|y"}[10m]))) > 300 and on(sink) mdi_y == 1'
    assert metric_names(expr) == {"mdi_x_bucket", "mdi_y"}


def test_every_rule_is_an_alert_with_a_severity_and_a_summary() -> None:
    found = rules()
    assert len(found) >= 10
    for rule in found:
        assert rule["alert"].startswith("Mdi"), rule
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, rule
        assert rule["annotations"]["summary"], rule
        assert metric_names(rule["expr"]), f"{rule['alert']}: no metric found in {rule['expr']!r}"


def test_the_rules_cover_what_operators_must_hear_about() -> None:
    exprs = {rule["alert"]: rule["expr"] for rule in rules()}
    wanted = {
        "venue stale": 'mdi_venue_state{state="stale"}', "venue down": 'mdi_venue_state{state="failed"}',
        "sink degraded": 'mdi_sink_state{state="degraded"}', "sink down": 'mdi_sink_state{state="down"}',
        "drops": "mdi_sink_dropped_events_total", "lake lag": "mdi_sink_latency_seconds_bucket",
        "restarts exhausted": 'mdi_component_state{state="failed"}',
    }
    for what, needle in wanted.items():
        assert any(needle in e for e in exprs.values()), f"no rule for {what} ({needle})"


def promtool() -> str:
    assert PROMTOOL, "promtool not found: install the Debian package prometheus (CI installs it)"
    return PROMTOOL


def test_promtool_accepts_the_rules() -> None:
    done = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout


def test_the_rules_fire_as_promtool_unit_tests_expect() -> None:
    """``mdi-alerts.test.yml``: synthetic series shaped like mdi's; the stale, lake-down,
    sink-down, drops and restarts-exhausted alerts fire (with their labels) and wait their ``for``."""
    done = subprocess.run([promtool(), "test", "rules", str(RULES_TESTS)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def scrape(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """/metrics of a real ``mdi demo`` once every venue is live and derived events flow."""
    tmp = tmp_path_factory.mktemp("alerts-demo")
    cfg = tmp / "config.toml"
    cfg.write_text(f"""
[connectors.kraken]
[connectors.coinbase]
[connectors.deribit]
max_instruments = 20
[connectors.binance]
[pipeline.spot_mid]
[pipeline.iv_surface]
interval = 1.0
[sinks.parquet]
root = "{tmp / 'lake'}"
flush_interval = 1.0
[http]
port = 0
[logging]
level = "WARNING"
""")
    log = tmp / "stderr.log"
    with log.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "mdi.cli", "demo", str(cfg)], stdout=subprocess.DEVNULL, stderr=err, env=dict(os.environ))
    try:
        yield _scrape_when_live(proc, log)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _scrape_when_live(proc: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + WAIT
    url = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"mdi demo exited {proc.returncode}: {log.read_text()}"
        match = url or re.search(r"health at (http://\S+)/health", log.read_text(errors="replace"))
        if match:
            url = match
            health = httpx.get(f"{url.group(1)}/health").json()
            flowing = health["pipelines"] and all(v["state"] == "live" for v in health["venues"].values())
            if flowing and len(health["venues"]) == 4:
                return httpx.get(f"{url.group(1)}/metrics").text
        time.sleep(0.2)
    raise AssertionError(f"mdi demo did not go live: {log.read_text()}")


def test_every_metric_in_the_rules_is_exported_by_a_running_mdi(scrape: str) -> None:
    exported = exported_names(scrape)
    assert "mdi_venue_state" in exported and "python_info" in exported  # a real, whole scrape
    for rule in rules():
        missing = metric_names(rule["expr"]) - exported - PROMETHEUS_OWN
        assert not missing, f"{rule['alert']} uses {sorted(missing)}, which mdi does not export"
