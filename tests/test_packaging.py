"""The installed distribution: every import declared, one OpenCV, no generic top-level packages."""
import ast
import importlib.metadata as md
import re
import sys
import tomllib
from pathlib import Path

from conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# optional backends that are not on the package index (used only when installed)
NOT_ON_PYPI = {"detectron2"}


def _dist_name(req: str) -> str:
    return re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0].lower().replace("_", "-")


def _declared() -> set[str]:
    reqs = list(PYPROJECT["project"]["dependencies"])
    for extra in PYPROJECT["project"].get("optional-dependencies", {}).values():
        reqs += extra
    return {_dist_name(r) for r in reqs}


def _imports(folder: Path) -> set[str]:
    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_every_third_party_import_is_declared():
    providers = md.packages_distributions()
    declared = _declared()
    undeclared = []
    for name in sorted(_imports(ROOT / "svc") | _imports(ROOT / "tools")):
        if name == "svc" or name in sys.stdlib_module_names or name in NOT_ON_PYPI:
            continue
        dists = {d.lower().replace("_", "-") for d in providers.get(name, [])} or {name.lower()}  # not installed
        if not dists & declared:
            undeclared.append(f"{name} (from {sorted(dists) or 'nothing installed'})")
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_one_opencv_build():
    """Two OpenCV wheels would share the one `cv2` package: whichever installed last wins."""
    opencv = [d for d in ("opencv-python", "opencv-python-headless", "opencv-contrib-python",
                          "opencv-contrib-python-headless") if _installed(d)]
    assert len(opencv) == 1, f"several OpenCV distributions installed: {opencv}"


def _installed(dist: str) -> bool:
    try:
        md.distribution(dist)
        return True
    except md.PackageNotFoundError:
        return False


def test_only_the_svc_package_is_installed():
    assert PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"] == ["svc*"]
    assert "pipelines" not in _imports(ROOT / "svc"), "the library must not import the pipeline definitions"
    for script in PYPROJECT["project"]["scripts"].values():
        assert script.startswith("svc.cli:")


def test_import_layering_contracts_hold():
    """The library's layering (pyproject.toml [tool.importlinter]): lint-imports must pass, so the
    base layer's path never imports the learned layers and no lower layer imports a higher one."""
    import subprocess

    p = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
                        "sys.exit(lint_imports_command())"], capture_output=True, cwd=ROOT, timeout=300)
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0 and "0 broken" in out, out[-3000:]
