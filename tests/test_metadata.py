"""Project metadata: the version is written once (csvae.__version__) and CITATION.cff repeats it."""

from pathlib import Path

import yaml

import csvae

ROOT = Path(__file__).resolve().parents[1]


def test_citation_version_is_the_package_version():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert citation["version"] == csvae.__version__
