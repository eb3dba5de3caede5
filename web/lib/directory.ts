"use client";

/**
 * Small reference lists many screens need (teams, categories, agents, canned responses), fetched
 * once per page load and shared, so a queue with filters does not ask for them five times.
 */
import { useEffect, useState } from "react";
import { api, itemsOf, unwrap } from "./api/client";
import type { CannedResponse, Category, Team, User } from "./api/types";

const cache = new Map<string, Promise<unknown>>();

function shared<T>(key: string, load: () => Promise<T>): Promise<T> {
  let entry = cache.get(key) as Promise<T> | undefined;
  if (!entry) {
    entry = load();
    cache.set(key, entry);
    entry.catch(() => cache.delete(key));
  }
  return entry;
}

/** Forget a list after an admin edits it. */
export function invalidate(key: "teams" | "categories" | "agents" | "canned"): void {
  cache.delete(key);
}

function useShared<T>(key: string, load: () => Promise<T>, enabled = true): T | undefined {
  const [value, setValue] = useState<T | undefined>(undefined);
  useEffect(() => {
    if (!enabled) return;
    let live = true;
    shared(key, load)
      .then((v) => live && setValue(v))
      .catch(() => live && setValue(undefined));
    return () => {
      live = false;
    };
    // `load` is a stable module-level function per key.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, enabled]);
  return value;
}

const loadTeams = async () => itemsOf<Team>(await unwrap(api().GET("/api/v1/teams")));
const loadCategories = async () => itemsOf<Category>(await unwrap(api().GET("/api/v1/categories")));
const loadCanned = async () => itemsOf<CannedResponse>(await unwrap(api().GET("/api/v1/canned-responses")));
const loadAgents = async () => {
  const [agents, admins] = await Promise.all(
    (["agent", "admin"] as const).map(async (role) =>
      itemsOf<User>(await unwrap(api().GET("/api/v1/users", { params: { query: { role, active: true } } }))),
    ),
  );
  return [...agents, ...admins].sort((a, b) => (a.name || a.email).localeCompare(b.name || b.email));
};

export const useTeams = (enabled = true) => useShared("teams", loadTeams, enabled);
export const useCategories = (enabled = true) => useShared("categories", loadCategories, enabled);
export const useCanned = (enabled = true) => useShared("canned", loadCanned, enabled);
export const useAgents = (enabled = true) => useShared("agents", loadAgents, enabled);
