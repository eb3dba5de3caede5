"use client";

import { useRouter } from "next/navigation";
import { useEffect, type ReactNode } from "react";
import { homeFor, useAuth } from "@/lib/auth";
import { Skeleton } from "./ui";

/** Screens for agents or admins only; others go to their own home. The API enforces it too. */
export function RequireRole({ role, children }: { role: "agent" | "admin"; children: ReactNode }) {
  const { user, isAgent, isAdmin } = useAuth();
  const router = useRouter();
  const allowed = role === "admin" ? isAdmin : isAgent;
  useEffect(() => {
    if (!allowed) router.replace(homeFor(user));
  }, [allowed, router, user]);
  return allowed ? <>{children}</> : <Skeleton lines={3} />;
}
