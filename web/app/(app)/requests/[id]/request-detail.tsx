"use client";

import Link from "next/link";
import { useState } from "react";
import { AttachmentList } from "@/components/attachments";
import { Composer } from "@/components/composer";
import { StatusBadge } from "@/components/ticket-badges";
import { Thread } from "@/components/thread";
import { useToast } from "@/components/toast";
import { Button, Card, ErrorNotice, Skeleton } from "@/components/ui";
import { api, unwrap } from "@/lib/api/client";
import type { TicketStatus } from "@/lib/api/types";
import { useI18n } from "@/lib/i18n";
import { useQuery } from "@/lib/query";

export function RequestDetail({ ticketId }: { ticketId: number }) {
  const { t, formatDateTime } = useI18n();
  const toast = useToast();
  const [busy, setBusy] = useState(false);
  const ticket = useQuery(`ticket-${ticketId}`, () =>
    unwrap(api().GET("/api/v1/tickets/{ticket_id}", { params: { path: { ticket_id: ticketId } } })),
  );
  const comments = useQuery(`comments-${ticketId}`, () =>
    unwrap(api().GET("/api/v1/tickets/{ticket_id}/comments", { params: { path: { ticket_id: ticketId } } })),
  );

  async function setStatus(status: TicketStatus) {
    setBusy(true);
    try {
      ticket.setData(
        await unwrap(
          api().PATCH("/api/v1/tickets/{ticket_id}", { params: { path: { ticket_id: ticketId } }, body: { status } }),
        ),
      );
      toast(t("ticket.updatedToast"));
    } catch (cause) {
      toast(cause instanceof Error ? cause.message : t("error.title"), "error");
    } finally {
      setBusy(false);
    }
  }

  if (ticket.error) {
    return (
      <div className="mx-auto max-w-3xl">
        <ErrorNotice error={ticket.error} onRetry={() => void ticket.refetch()} />
      </div>
    );
  }
  if (!ticket.data) return <Skeleton lines={8} />;
  const tk = ticket.data;
  const finished = tk.status === "resolved" || tk.status === "closed";

  return (
    <div className="mx-auto max-w-3xl space-y-5">
      <div>
        <Link href="/requests" className="text-sm text-slate-500 hover:text-slate-800">
          ← {t("requests.title")}
        </Link>
        <div className="mt-2 flex flex-wrap items-start justify-between gap-3">
          <h1 className="text-xl font-semibold" data-testid="ticket-subject">
            <span className="mr-2 text-slate-400">#{tk.number}</span>
            {tk.subject}
          </h1>
          <div className="flex items-center gap-2">
            <StatusBadge status={tk.status} />
            {finished ? (
              <Button size="sm" onClick={() => void setStatus("open")} disabled={busy}>
                {t("reply.reopen")}
              </Button>
            ) : (
              <Button size="sm" onClick={() => void setStatus("resolved")} disabled={busy}>
                {t("reply.markResolved")}
              </Button>
            )}
          </div>
        </div>
        <p className="mt-1 text-xs text-slate-500">
          {t("ticket.created")} {formatDateTime(tk.created_at)} · {t("ticket.assignee")}:{" "}
          {tk.assignee?.name ?? t("ticket.unassigned")}
        </p>
      </div>
      {tk.attachments?.length > 0 && (
        <Card className="px-4 py-3">
          <h2 className="text-sm font-medium text-slate-700">{t("ticket.attachments")}</h2>
          <AttachmentList attachments={tk.attachments} />
        </Card>
      )}
      {comments.error ? (
        <ErrorNotice error={comments.error} onRetry={() => void comments.refetch()} />
      ) : comments.data === undefined ? (
        <Skeleton lines={3} />
      ) : (
        <Thread comments={comments.data} showInternal={false} />
      )}
      <Composer
        ticketId={tk.id}
        allowInternal={false}
        hint={tk.status === "closed" ? t("reply.closedHint") : undefined}
        onPosted={(comment) => {
          comments.setData((list) => [...(list ?? []), comment]);
          void ticket.refetch();
        }}
      />
    </div>
  );
}
