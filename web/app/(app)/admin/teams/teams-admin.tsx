"use client";

import { useState } from "react";
import { CrudPage } from "@/components/admin/crud";
import { useToast } from "@/components/toast";
import { Button, Modal } from "@/components/ui";
import { api, itemsOf, unwrap } from "@/lib/api/client";
import type { Team, User } from "@/lib/api/types";
import { invalidate, useAgents } from "@/lib/directory";
import { useI18n } from "@/lib/i18n";

export function TeamsAdmin() {
  const { t } = useI18n();
  const agents = useAgents();
  const [members, setMembers] = useState<{ team: Team; reload: () => void } | null>(null);
  const memberNames = (team: Team) => {
    const ids = team.member_ids ?? agents?.filter((a) => a.team_ids.includes(team.id)).map((a) => a.id) ?? [];
    return ids.map((id) => agents?.find((a) => a.id === id)).filter((a): a is User => Boolean(a));
  };
  return (
    <>
      <CrudPage<Team>
        title={t("admin.teams")}
        queryKey="admin-teams"
        newLabel={t("teams.new")}
        emptyTitle={t("teams.empty")}
        load={async () => itemsOf<Team>(await unwrap(api().GET("/api/v1/teams")))}
        create={async (values) => {
          await unwrap(api().POST("/api/v1/teams", { body: values as never }));
          invalidate("teams");
        }}
        update={async (row, values) => {
          await unwrap(api().PATCH("/api/v1/teams/{team_id}", { params: { path: { team_id: row.id } }, body: values as never }));
          invalidate("teams");
        }}
        remove={async (row) => {
          await unwrap(api().DELETE("/api/v1/teams/{team_id}", { params: { path: { team_id: row.id } } }));
          invalidate("teams");
        }}
        rowActions={(team, reload) => (
          <Button size="sm" variant="ghost" onClick={() => setMembers({ team, reload })}>
            {t("teams.editMembers")}
          </Button>
        )}
        columns={[
          { label: t("common.name"), render: (tm) => <span className="font-medium">{tm.name}</span> },
          { label: t("teams.email"), render: (tm) => tm.email ?? "—" },
          {
            label: t("teams.members"),
            render: (tm) => (
              <span className="text-xs text-slate-600">
                {memberNames(tm)
                  .map((a) => a.name || a.email)
                  .join(", ") || "—"}
              </span>
            ),
          },
        ]}
        fields={[
          { name: "name", label: t("common.name"), kind: "text", required: true },
          { name: "email", label: t("teams.email"), kind: "email" },
          {
            name: "lead_id",
            label: t("teams.lead"),
            kind: "select",
            numeric: true,
            options: (agents ?? []).map((a) => ({ value: a.id, label: a.name || a.email })),
          },
        ]}
      />
      {members && (
        <MembersDialog
          team={members.team}
          agents={agents ?? []}
          current={memberNames(members.team).map((a) => a.id)}
          onClose={() => setMembers(null)}
          onSaved={() => {
            invalidate("agents");
            members.reload();
            setMembers(null);
          }}
        />
      )}
    </>
  );
}

function MembersDialog({
  team,
  agents,
  current,
  onClose,
  onSaved,
}: {
  team: Team;
  agents: User[];
  current: number[];
  onClose: () => void;
  onSaved: () => void;
}) {
  const { t } = useI18n();
  const toast = useToast();
  const [chosen, setChosen] = useState(new Set(current));
  const [busy, setBusy] = useState(false);
  async function save() {
    setBusy(true);
    try {
      await unwrap(
        api().PUT("/api/v1/teams/{team_id}/members", {
          params: { path: { team_id: team.id } },
          body: { user_ids: [...chosen] },
        }),
      );
      toast(t("common.saved"));
      onSaved();
    } catch (cause) {
      toast(cause instanceof Error ? cause.message : t("error.title"), "error");
    } finally {
      setBusy(false);
    }
  }
  return (
    <Modal title={`${team.name} · ${t("teams.members")}`} onClose={onClose}>
      <ul className="max-h-80 space-y-1 overflow-y-auto">
        {agents.map((a) => (
          <li key={a.id}>
            <label className="flex items-center gap-2 text-sm">
              <input
                type="checkbox"
                checked={chosen.has(a.id)}
                onChange={(e) => {
                  const next = new Set(chosen);
                  if (e.target.checked) next.add(a.id);
                  else next.delete(a.id);
                  setChosen(next);
                }}
              />
              {a.name || a.email} <span className="text-xs text-slate-400">{a.email}</span>
            </label>
          </li>
        ))}
      </ul>
      <div className="mt-4 flex justify-end gap-2">
        <Button onClick={onClose}>{t("common.cancel")}</Button>
        <Button variant="primary" onClick={() => void save()} disabled={busy}>
          {t("common.save")}
        </Button>
      </div>
    </Modal>
  );
}
