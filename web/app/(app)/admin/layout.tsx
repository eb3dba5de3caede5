import { AdminNav } from "@/components/admin/admin-nav";
import { RequireRole } from "@/components/require-role";

export default function AdminLayout({ children }: LayoutProps<"/admin">) {
  return (
    <RequireRole role="admin">
      <div className="flex flex-col gap-6 lg:flex-row">
        <AdminNav />
        <div className="min-w-0 flex-1">{children}</div>
      </div>
    </RequireRole>
  );
}
