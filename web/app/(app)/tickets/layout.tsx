import { RequireRole } from "@/components/require-role";

export default function AgentLayout({ children }: LayoutProps<"/tickets">) {
  return <RequireRole role="agent">{children}</RequireRole>;
}
