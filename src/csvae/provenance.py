"""Where a run came from: the versions of csvae, torch and Python, the git commit of the
clone csvae runs from (when it runs from one) and the hardware. ``fit`` writes them to RUN/versions.json,
``evaluate`` copies them into metrics.json, and the reports show them."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Optional

from csvae.fileio import atomic_write_bytes
from csvae.version import __version__


def clone_root() -> Optional[Path]:
    """The root of the git clone csvae is imported from (src/csvae inside it), or None when it is
    installed elsewhere (site-packages)."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / ".git").exists() else None


def git_commit(root: Path) -> Optional[str]:
    """The commit checked out in ``root``, with ``+changes`` when tracked files differ from it;
    None when git cannot tell."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+changes" if dirty else head


def hardware() -> str:
    """The machine in one line: system, architecture, CPU model and cores, and the CUDA GPUs
    torch sees ("Linux x86_64, AMD EPYC 7B13 (16 cores), 1 x NVIDIA H100 80GB HBM3")."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    except OSError:
        pass
    text = f"{platform.system()} {platform.machine()}, {cpu} ({os.cpu_count()} cores)"
    if torch.cuda.is_available():
        gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        text += ", " + ", ".join(f"{gpus.count(g)} x {g}" for g in dict.fromkeys(gpus))
    return text


def versions() -> dict:
    """{"csvae", "torch", "python", "commit", "hardware"} of this process (commit None outside a
    clone)."""
    import torch

    root = clone_root()
    return {"csvae": __version__, "torch": torch.__version__, "python": platform.python_version(),
            "commit": git_commit(root) if root is not None else None, "hardware": hardware()}


def write_versions(path: str | Path) -> None:
    """Write ``versions()`` to the JSON file ``path`` (atomically)."""
    atomic_write_bytes(Path(path), (json.dumps(versions(), indent=2) + "\n").encode())


def versions_text(values: dict) -> str:
    """One line: "csvae 0.1.0, torch 2.x, Python 3.x, commit abc123def456"."""
    commit = values.get("commit")
    text = f"csvae {values.get('csvae')}, torch {values.get('torch')}, Python {values.get('python')}"
    return text + (f", commit {commit[:12]}{'+changes' if commit.endswith('+changes') else ''}" if commit else "")
