"use client";

// Replaces the root layout when it fails, so it cannot use the app's providers or dictionary.
export default function GlobalError({ retry }: { error: unknown; retry: () => void }) {
  return (
    <html lang="ko">
      <body style={{ fontFamily: "system-ui, sans-serif", padding: "4rem", textAlign: "center" }}>
        <h1>문제가 발생했습니다 · Something went wrong</h1>
        <button type="button" onClick={() => retry()} style={{ marginTop: "1rem" }}>
          다시 시도 · Try again
        </button>
      </body>
    </html>
  );
}
