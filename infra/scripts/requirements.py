"""Print the runtime requirements in pyproject.toml, one a line, plus the named extras.

The image installs these before it copies the code, so a code change does not reinstall every
dependency:  python requirements.py pyproject.toml mysql,oracle > requirements.txt
"""

from __future__ import annotations

import sys
import tomllib


def requirements(pyproject: str, extras: str = "") -> list[str]:
    with open(pyproject, "rb") as file:
        project = tomllib.load(file)["project"]
    wanted = [name.strip() for name in extras.split(",") if name.strip()]
    optional = project.get("optional-dependencies", {})
    unknown = [name for name in wanted if name not in optional]
    if unknown:
        raise SystemExit(f"unknown extras {unknown}; pyproject.toml has {sorted(optional)}")
    return list(project["dependencies"]) + [dep for name in wanted for dep in optional[name]]


if __name__ == "__main__":
    print("\n".join(requirements(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "")))
