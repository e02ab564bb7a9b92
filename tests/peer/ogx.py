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


def install() -> Path:
    python = os.environ.get("OGX_PYTHON") or shutil.which("python3.12")
    if python is None and shutil.which("pyenv"):
        found = subprocess.run(["pyenv", "which", "python3"], env={**os.environ, "PYENV_VERSION": "3.12.1"},
                               capture_output=True, text=True)
        python = found.stdout.strip() or None
    if python is None:
        raise SystemExit("ogx needs Python >= 3.12 (set OGX_PYTHON)")
    subprocess.run([python, "-m", "venv", str(home())], check=True, timeout=120)
    subprocess.run([str(home() / "bin" / "pip"), "install", "-q", f"ogx=={VERSION}"], check=True, timeout=600)
    return home()


if __name__ == "__main__":
    print(executable() or install(), file=sys.stdout)
