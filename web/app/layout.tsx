import type { Metadata } from "next";
import { cookies } from "next/headers";
import "pretendard/dist/web/variable/pretendardvariable-dynamic-subset.css";
import { LOCALE_COOKIE, parseLocale } from "@/lib/i18n/locales";
import { apiBaseUrl } from "@/lib/runtime-config";
import "./globals.css";
import { Providers } from "./providers";

export const metadata: Metadata = {
  title: { default: "IT 서비스 데스크 · IT Service Desk", template: "%s · IT Service Desk" },
  description: "Email-first IT service desk",
};

export default async function RootLayout({ children }: LayoutProps<"/">) {
  // Reading the cookie renders every page per request, so the API base below is the runtime one.
  const locale = parseLocale((await cookies()).get(LOCALE_COOKIE)?.value);
  const apiBase = apiBaseUrl();
  return (
    <html lang={locale} className="h-full">
      <head>
        {/* Read at request time, so one build serves any API address; set before any script runs. */}
        <script dangerouslySetInnerHTML={{ __html: `window.__API_BASE__=${JSON.stringify(apiBase).replace(/</g, "\\u003c")};` }} />
      </head>
      <body className="min-h-full flex flex-col">
        <Providers apiBase={apiBase} locale={locale}>
          {children}
        </Providers>
      </body>
    </html>
  );
}
