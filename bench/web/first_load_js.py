"""bench/web: first-load JavaScript per route of the portal's production build.

    (cd web && npm run build) && .venv/bin/python -m bench.web.first_load_js

Read from the build output, not a browser: for each route, the root main files every page loads
(the React/Next runtime, rootMainFiles in build-manifest.json) plus every chunk that route's
client-reference manifest lists for its layouts, page, loading, error and not-found entries.
Polyfills are left out (they load only in browsers without ES modules). Sizes are the files on
disk and their gzip -9 size (what a server with compression sends).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "web"
MAIN_ROUTES = [
    "/login",
    "/requests",
    "/requests/new",
    "/requests/[id]",
    "/tickets",
    "/tickets/[id]",
    "/admin/jobs",
    "/admin/mail",
    "/admin/mail/[id]",
    "/admin/users",
]


def route_of(manifest: Path, app_dir: Path) -> str:
    relative = manifest.parent.relative_to(app_dir).as_posix()
    parts = [p for p in relative.split("/") if not (p.startswith("(") and p.endswith(")"))]
    return "/" + "/".join(parts) if parts and parts != ["."] else "/"


def entry_chunks(manifest: Path) -> set[str]:
    text = manifest.read_text()
    match = re.search(r"\] = (\{.*\});?\s*$", text, re.S)
    if not match:
        raise ValueError(f"unreadable client reference manifest: {manifest}")
    data = json.loads(match.group(1))
    return {chunk for chunks in data.get("entryJSFiles", {}).values() for chunk in chunks}


def sizes(files: set[str], next_dir: Path) -> tuple[int, int]:
    raw = zipped = 0
    for name in files:
        content = (next_dir / name).read_bytes()
        raw += len(content)
        zipped += len(gzip.compress(content, compresslevel=9))
    return raw, zipped


def measure(web: Path = WEB) -> tuple[tuple[int, int], dict[str, tuple[int, int]]]:
    next_dir = web / ".next"
    build = json.loads((next_dir / "build-manifest.json").read_text())
    shared = set(build["rootMainFiles"])
    app_dir = next_dir / "server" / "app"
    routes: dict[str, tuple[int, int]] = {}
    for manifest in sorted(app_dir.rglob("page_client-reference-manifest.js")):
        route = route_of(manifest, app_dir)
        routes[route] = sizes(shared | entry_chunks(manifest), next_dir)
    return sizes(shared, next_dir), routes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--all", action="store_true", help="every route, not just the main ones")
    args = parser.parse_args()
    build_id = (WEB / ".next" / "BUILD_ID").read_text().strip()
    (shared_raw, shared_gz), routes = measure()
    print(f"web build {build_id}: first-load JS per route (gzip -9 / on disk)")
    print(
        f"  {'shared by all (runtime)':28} {shared_gz / 1024:7.1f} kB  {shared_raw / 1024:7.1f} kB"
    )
    wanted = sorted(routes) if args.all else [r for r in MAIN_ROUTES if r in routes]
    for route in wanted:
        raw, gz = routes[route]
        print(f"  {route:28} {gz / 1024:7.1f} kB  {raw / 1024:7.1f} kB")
    missing = [r for r in MAIN_ROUTES if r not in routes]
    if missing:
        print(f"  (not in this build: {', '.join(missing)})")


if __name__ == "__main__":
    main()
