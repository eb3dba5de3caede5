"use client";

import { useRouter } from "next/navigation";
import { useEffect } from "react";
import { Skeleton } from "@/components/ui";
import { homeFor, useAuth } from "@/lib/auth";

/** `/`: each role has its own home (requesters their requests, agents the queue). */
export default function Home() {
  const { user } = useAuth();
  const router = useRouter();
  useEffect(() => {
    router.replace(homeFor(user));
  }, [router, user]);
  return <Skeleton lines={4} />;
}
