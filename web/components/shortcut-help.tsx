"use client";

import { useI18n, type MessageKey } from "@/lib/i18n";
import { Modal } from "./ui";

const KEYS: { keys: string[]; label: MessageKey }[] = [
  { keys: ["j"], label: "shortcuts.next" },
  { keys: ["k"], label: "shortcuts.prev" },
  { keys: ["Enter", "o"], label: "shortcuts.open" },
  { keys: ["r"], label: "shortcuts.reply" },
  { keys: ["n"], label: "shortcuts.note" },
  { keys: ["e"], label: "shortcuts.resolve" },
  { keys: ["?"], label: "shortcuts.help" },
  { keys: ["Esc"], label: "shortcuts.escape" },
];

export function ShortcutHelp({ onClose }: { onClose: () => void }) {
  const { t } = useI18n();
  return (
    <Modal title={t("shortcuts.title")} onClose={onClose}>
      <dl className="grid grid-cols-[auto_1fr] gap-x-6 gap-y-2 text-sm" data-testid="shortcut-help">
        {KEYS.map((k) => (
          <div key={k.label} className="contents">
            <dt className="flex gap-1">
              {k.keys.map((key) => (
                <kbd key={key} className="rounded border border-slate-300 bg-slate-50 px-1.5 py-0.5 font-mono text-xs shadow-sm">
                  {key}
                </kbd>
              ))}
            </dt>
            <dd className="text-slate-700">{t(k.label)}</dd>
          </div>
        ))}
      </dl>
    </Modal>
  );
}
