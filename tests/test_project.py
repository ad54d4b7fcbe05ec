"""The project keeps its promises to a new user: CI runs the README's test command, and the requirements
install one version of each package wherever Python 3.10 or newer runs."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    test_commands = [line for block in blocks for line in block.splitlines() if "pytest" in line]
    assert len(test_commands) == 1, test_commands
    assert test_commands[0] in (ROOT / ".ci" / "run").read_text()


def pins(path: Path, environment: dict[str, str]) -> dict[str, list[str]]:
    """The exact versions a requirements file asks for in one environment, by package (`-r` followed)."""
    from packaging.requirements import Requirement  # pytest's own dependency

    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r "):
            for name, versions in pins(path.parent / line[3:].strip(), environment).items():
                found.setdefault(name, []).extend(versions)
        elif line:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                found.setdefault(requirement.name, []).append(str(requirement.specifier))
    return found


@pytest.mark.parametrize("python", ["3.10", "3.11", "3.12", "3.13"])
@pytest.mark.parametrize("machine, system", [("x86_64", "linux"), ("aarch64", "linux"), ("AMD64", "win32"),
                                             ("arm64", "darwin")])
def test_the_requirements_pin_one_version_of_each_package_everywhere(python: str, machine: str, system: str) -> None:
    environment = {"python_version": python, "platform_machine": machine, "sys_platform": system}
    wanted = pins(ROOT / "requirements-test.txt", environment)
    runtimes = [name for name in wanted if name.startswith("onnxruntime")]
    assert runtimes == (["onnxruntime-gpu"] if (machine, system) == ("x86_64", "linux") else ["onnxruntime"])
    for name in ("numpy", "opencv-python-headless", "flask", "waitress", "pytest", "onnx", "pillow", *runtimes):
        assert len(wanted.get(name, [])) == 1 and wanted[name][0].startswith("=="), (name, wanted.get(name))
    # numpy and onnxruntime stopped making wheels for Python 3.10 after these
    if python == "3.10":
        assert wanted["numpy"] == ["==2.2.6"] and wanted[runtimes[0]] == ["==1.23.2"]
