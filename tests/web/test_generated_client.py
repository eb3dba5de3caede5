"""The portal's typed client (web/lib/api/schema.d.ts) is generated from the API's OpenAPI
document; this fails when the API changed and `cd web && npm run gen:api` was not run."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.web.conftest import WEB_DIR


def test_generated_api_client_matches_the_api() -> None:
    if not (WEB_DIR / "node_modules" / ".bin" / "openapi-typescript").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=WEB_DIR, check=True)
    result = subprocess.run(
        ["node", "scripts/gen-api.mjs", "--check"],
        cwd=WEB_DIR,
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr or result.stdout
