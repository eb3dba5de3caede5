#!/usr/bin/env bash
# Gives every route segment with a page.tsx its loading.tsx and error.tsx (idempotent).
set -euo pipefail
cd "$(dirname "$0")/../app"
find . -name page.tsx -printf '%h\n' | while read -r dir; do
  [ -f "$dir/loading.tsx" ] || printf '%s\n' \
    'import { SegmentLoading } from "@/components/segment";' '' \
    'export default function Loading() {' '  return <SegmentLoading />;' '}' >"$dir/loading.tsx"
  [ -f "$dir/error.tsx" ] || printf '%s\n' \
    '"use client";' '' 'import { SegmentError } from "@/components/segment";' '' \
    'export default function Error({ error, retry }: { error: unknown; retry: () => void }) {' \
    '  return <SegmentError error={error} retry={retry} />;' '}' >"$dir/error.tsx"
done
