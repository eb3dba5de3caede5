/**
 * Attachments go straight to storage: the API hands out a presigned PUT (POST /uploads), the
 * browser sends the bytes there with XHR (fetch has no upload progress), then the API checks the
 * object and marks it stored (POST /uploads/{id}/complete).
 */
import { ApiError, api, apiUrl, unwrap } from "./api/client";
import type { Attachment } from "./api/types";

export async function uploadFile(
  file: File,
  onProgress: (fraction: number) => void,
  signal?: AbortSignal,
): Promise<Attachment> {
  const contentType = file.type || "application/octet-stream";
  const ticket = await unwrap(
    api().POST("/api/v1/uploads", {
      body: { filename: file.name, size: file.size, content_type: contentType },
    }),
  );
  await put(apiUrl(ticket.upload_url), ticket.method || "PUT", ticket.headers ?? {}, file, onProgress, signal);
  onProgress(1);
  return unwrap(
    api().POST("/api/v1/uploads/{attachment_id}/complete", {
      params: { path: { attachment_id: ticket.attachment_id } },
    }),
  );
}

function put(
  url: string,
  method: string,
  headers: Record<string, string>,
  file: File,
  onProgress: (fraction: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    // The presigned URL is the credential; no cookies go to storage.
    xhr.withCredentials = false;
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(Math.min(0.99, e.loaded / e.total));
    };
    xhr.onload = () =>
      xhr.status >= 200 && xhr.status < 300
        ? resolve()
        : reject(new ApiError(xhr.status, { error: "upload_failed", detail: xhr.responseText.slice(0, 200) }));
    xhr.onerror = () => reject(new ApiError(0, { error: "upload_failed", detail: "network error" }));
    xhr.onabort = () => reject(new ApiError(0, { error: "upload_aborted" }));
    signal?.addEventListener("abort", () => xhr.abort());
    xhr.send(file);
  });
}
