"""ogx 1.5.0 (an OpenAI-compatible server, formerly llama-stack), for testing the mirror against a
different implementation. Installed by `python -m tests.peer.ogx` (CI does) into
~/.cache/convoscope/ogx-1.5.0 (a separate Python 3.12 venv; pip, about 40 s); tests skip
without it unless CONVOSCOPE_REQUIRE_OGX=1."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

VERSION = "1.5.0"


def home() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "convoscope"
    return root / f"ogx-{VERSION}"


def executable() -> Path | None:
    path = home() / "bin" / "ogx"
    return path if path.exists() else None


def python_312() -> str | None:
    """A Python >= 3.12 that runs: OGX_PYTHON, pyenv's 3.12, or python3.12/3.13 on PATH (a pyenv shim
    for a version that is not selected is on PATH but does not run, so each is tried)."""
    candidates = [os.environ.get("OGX_PYTHON")]
    if shutil.which("pyenv"):
        found = subprocess.run(["pyenv", "which", "python3"], env={**os.environ, "PYENV_VERSION": "3.12.1"},
                               capture_output=True, text=True)
        candidates.append(found.stdout.strip())
    candidates += [shutil.which("python3.12"), shutil.which("python3.13")]
    for candidate in filter(None, candidates):
        check = subprocess.run([candidate, "-c", "import sys; assert sys.version_info >= (3, 12)"],
                               capture_output=True)
        if check.returncode == 0:
            return candidate
    return None


def install() -> Path:
    python = python_312()
    if python is None:
        raise SystemExit("ogx needs Python >= 3.12 (set OGX_PYTHON)")
    subprocess.run([python, "-m", "venv", str(home())], check=True, timeout=120)
    subprocess.run([str(home() / "bin" / "pip"), "install", "-q", f"ogx=={VERSION}"], check=True, timeout=600)
    return home()

if __name__ == "__main__":
    print(executable() or install(), file=sys.stdout)
