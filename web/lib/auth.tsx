"use client";

import { usePathname, useRouter } from "next/navigation";
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useState,
  type ReactNode,
} from "react";
import { ApiError, api, UNAUTHORIZED_EVENT, unwrap } from "./api/client";
import type { User } from "./api/types";
import { useI18n, type UiLocale } from "./i18n";
import { prefetchQueue } from "./queue";

interface Auth {
  user: User;
  isAgent: boolean;
  isAdmin: boolean;
  setUser: (user: User) => void;
  signOut: () => Promise<void>;
}

const AuthContext = createContext<Auth | null>(null);

export function signInPath(next?: string | null): string {
  return next && next !== "/" ? `/login?next=${encodeURIComponent(next)}` : "/login";
}

/** Only paths on this site may be a post-login destination (no open redirect: browsers read
 * `//host` and `/\host` as another host). */
export function safeNext(next: string | null | undefined): string | null {
  return next && /^\/(?![/\\])/.test(next) ? next : null;
}

export function homeFor(user: Pick<User, "role">): string {
  return user.role === "requester" ? "/requests" : "/tickets";
}

/**
 * Who is signed in, asked of the API (the session cookie is httpOnly and belongs to the API, so
 * only the API can tell). Not signed in: off to the sign-in page, coming back here afterwards.
 */
export function AuthProvider({ children, fallback }: { children: ReactNode; fallback: ReactNode }) {
  const router = useRouter();
  const pathname = usePathname();
  const { locale, setLocale } = useI18n();
  const [user, setUser] = useState<User | null>(null);
  const [failure, setFailure] = useState<ApiError | null>(null);

  useEffect(() => {
    let cancelled = false;
    const session = unwrap(api().GET("/api/v1/auth/me"));
    prefetchQueue(window.location.pathname, window.location.search);
    session
      .then((me) => {
        if (cancelled) return;
        setUser(me);
        if (me.locale !== locale) setLocale(me.locale as UiLocale);
      })
      .catch((cause: unknown) => {
        if (cancelled) return;
        if (cause instanceof ApiError && cause.status === 401) {
          router.replace(signInPath(window.location.pathname + window.location.search));
        } else {
          setFailure(cause instanceof ApiError ? cause : new ApiError(0, { error: String(cause) }));
        }
      });
    return () => {
      cancelled = true;
    };
    // Only on mount: the session does not change while the shell stays mounted.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    const expired = () => router.replace(signInPath(window.location.pathname + window.location.search));
    window.addEventListener(UNAUTHORIZED_EVENT, expired);
    return () => window.removeEventListener(UNAUTHORIZED_EVENT, expired);
  }, [router, pathname]);

  const signOut = useCallback(async () => {
    try {
      await unwrap(api().POST("/api/v1/auth/logout"));
    } finally {
      setUser(null);
      router.replace("/login");
    }
  }, [router]);

  const value = useMemo<Auth | null>(
    () =>
      user && {
        user,
        isAgent: user.role === "agent" || user.role === "admin",
        isAdmin: user.role === "admin",
        setUser,
        signOut,
      },
    [user, signOut],
  );

  if (failure) throw failure;
  if (!value) return <>{fallback}</>;
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth outside AuthProvider");
  return value;
}

export function useOptionalAuth(): Auth | null {
  return useContext(AuthContext);
}
