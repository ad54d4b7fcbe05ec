"""The project keeps its promises to a new user: CI runs the README's test command."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    test_commands = [line for block in blocks for line in block.splitlines() if "pytest" in line]
    assert len(test_commands) == 1, test_commands
    assert test_commands[0] in (ROOT / ".ci" / "run").read_text()
