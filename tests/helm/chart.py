"""Renders the retention chart with Helm's own engine and walks what it produced.

The tests never template the chart themselves: `helm_python` binds Helm's Go SDK,
so what they assert is what `helm install` would send to a cluster.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import helm_python
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART_DIR = REPO / "helm" / "retention"
RELEASE = "nightly"
NAMESPACE = "privacy"
KUBERNETES_VERSION = "1.31.0"

# The values of each mode the acceptance criteria name. Erasure reads the subject
# from a Secret, the way NOTES.txt tells operators to.
MODES: dict[str, dict] = {
    "default": {},
    "sharded": {"sharding": {"enabled": True, "shards": 7}},
    "erasure": {
        "erasure": {
            "enabled": True,
            "ticket": "DSAR-17",
            "secretKeyRef": {"name": "dsar-17", "key": "subject"},
        }
    },
}


@dataclass
class Rendered:
    """One render: the raw text per template file and the parsed objects."""

    files: dict[str, str]
    objects: list[dict]

    @property
    def notes(self) -> str:
        return next(text for path, text in self.files.items() if path.endswith("NOTES.txt"))

    @property
    def manifests(self) -> dict[str, str]:
        return {p: t for p, t in self.files.items() if p.endswith(".yaml") and t.strip()}

    def all_text(self) -> str:
        return "\n".join(self.files.values())

    def of_kind(self, kind: str) -> list[dict]:
        return [o for o in self.objects if o["kind"] == kind]

    def named(self, kind: str, name: str) -> dict:
        matches = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
        return matches[0]

    def pod_specs(self) -> list[tuple[str, dict]]:
        """Every pod spec, wherever it sits: CronJob, Job or bare Pod."""
        specs = []
        for o in self.objects:
            name = f"{o['kind']}/{o['metadata']['name']}"
            if o["kind"] == "CronJob":
                specs.append((name, o["spec"]["jobTemplate"]["spec"]["template"]["spec"]))
            elif o["kind"] == "Job":
                specs.append((name, o["spec"]["template"]["spec"]))
            elif o["kind"] == "Pod":
                specs.append((name, o["spec"]))
        return specs


def load() -> helm_python.Chart:
    return helm_python.Chart.load(str(CHART_DIR))


def render(values: dict | None = None, *, release: str = RELEASE) -> Rendered:
    with load() as chart:
        files = chart.render(values or {}, name=release, namespace=NAMESPACE, is_install=True)
    objects = []
    for path, text in files.items():
        if not path.endswith(".yaml"):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return Rendered(files=files, objects=objects)


def main_container(spec: dict) -> dict:
    (container,) = [c for c in spec["containers"] if c["name"] == "retention"]
    return container


def env_named(container: dict, name: str) -> dict:
    matches = [e for e in container.get("env", []) if e["name"] == name]
    assert len(matches) == 1, f"expected one env var {name}, found {len(matches)}"
    return matches[0]


def kubernetes_validate(files: list[Path]) -> subprocess.CompletedProcess:
    """The kubernetes-validate command line, strict, against Kubernetes 1.31."""
    return subprocess.run(
        [sys.executable, "-m", "kubernetes_validate", "-k", KUBERNETES_VERSION, "--strict", *map(str, files)],
        capture_output=True,
        text=True,
    )
