"""A fresh virtualenv that sees the test environment's packages but none of its own installs.

The fresh virtualenv gets a wheel alone (``--no-deps --no-index``: nothing is downloaded); its dependencies
(spaCy, this package) are the test environment's, reached through a ``.pth`` line that adds the test
interpreter's site directories, so what is checked is the wheel's own contents and entry points.
"""
import subprocess
import sys
import venv
from pathlib import Path


def fresh_venv_with(wheel: str, root: Path) -> str:
    """Create a virtualenv in ``root``, install ``wheel`` into it, and return its python's path."""
    venv.EnvBuilder(with_pip=True).create(root)
    python = str(root / "bin" / "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    ours = [p for p in sys.path if p.endswith("site-packages")]
    Path(site, "zz_test_env.pth").write_text("".join(f"import site; site.addsitedir({p!r})\n" for p in ours))
    install = subprocess.run([python, "-m", "pip", "install", "--no-deps", "--no-index", wheel],
                             capture_output=True, text=True)
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    return python
