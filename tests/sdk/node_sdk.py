"""The Node `openai` SDK and TypeScript, as pinned by tests/sdk/node/package-lock.json.

They are installed with `npm ci` into a cache directory named after the lock file's hash
($CONVOSCOPE_NODE_CACHE, else $XDG_CACHE_HOME/convoscope or ~/.cache/convoscope), once: later
runs, and runs without a network, reuse it. `python -m tests.sdk.node_sdk` installs and prints
the directory (CI does this before the tests, to fail early with npm's own message).
"""

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

PINS = Path(__file__).parent / "node"
INSTALL_TIMEOUT_SECONDS = 300


class NodeUnavailable(Exception):
    """Node or npm is missing, or the pinned packages could not be installed."""


def cache_root() -> Path:
    if os.environ.get("CONVOSCOPE_NODE_CACHE"):
        return Path(os.environ["CONVOSCOPE_NODE_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "convoscope"


def install() -> Path:
    """The directory holding node_modules/ with the pinned packages, installed if need be."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise NodeUnavailable(f"`{tool}` is not on PATH")
    lock = (PINS / "package-lock.json").read_bytes()
    target = cache_root() / f"node-sdk-{hashlib.sha256(lock).hexdigest()[:16]}"
    done = target / ".installed"
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # two test runs installing at once would corrupt it
        if done.exists():
            return target
        target.mkdir(exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(PINS / name, target / name)
        command = ["npm", "ci", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"]
        try:
            result = subprocess.run(command, cwd=target, capture_output=True, text=True,
                                    timeout=INSTALL_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            raise NodeUnavailable(f"`npm ci` took more than {INSTALL_TIMEOUT_SECONDS} s") from None
        if result.returncode != 0:
            raise NodeUnavailable(f"`npm ci` failed in {target}:\n{result.stderr.strip()[-2000:]}")
        done.write_text("")
    return target


if __name__ == "__main__":
    try:
        print(install())
    except NodeUnavailable as exc:
        sys.exit(str(exc))
