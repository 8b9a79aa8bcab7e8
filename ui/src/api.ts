// HTTP API client of the UI (docs/api.md): JSON calls, uploads with progress, Arrow streaming.
import { RecordBatchReader, type RecordBatch, type Schema } from "apache-arrow";
import { authHeaders, authProblem, getApiKey } from "./auth";
import { parseError, type ServerError } from "./logic";

export class ApiError extends Error {
  /** Whether the request carried an API key (a 401 then means "rejected", not "missing"). */
  public readonly keySent: boolean;
  constructor(public readonly err: ServerError) {
    super(err.message);
    this.keySent = getApiKey(sessionStorage) !== null;
    // 401/403 anywhere: the app shows the key prompt or the "not allowed" notice (main.ts).
    if (authProblem(err, this.keySent)) window.dispatchEvent(new CustomEvent("lakehouse:auth", { detail: this }));
  }
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  return authHeaders(sessionStorage, extra);
}

/**
 * fetch with the API key; a network failure (status 0) or an error status becomes an ApiError
 * with the server's message. An abort is passed on as it is.
 */
async function apiFetch(path: string, init: RequestInit = {}): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers: headers((init.headers as Record<string, string>) ?? {}) });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(parseError(0, ""));
  }
  if (!res.ok) throw new ApiError(parseError(res.status, await res.text()));
  return res;
}

/** A download through fetch, so the API key goes with it (an <a href> cannot send headers). */
export async function fetchBlob(path: string, init: RequestInit = {}): Promise<Blob> {
  return (await apiFetch(path, init)).blob();
}

/** Runs SQL on the server in `format` (csv, parquet...) and returns the whole file. */
export const queryFile = (sql: string, format: string) =>
  fetchBlob("/api/v1/query", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ sql, format }) });

export async function getJson<T = any>(path: string, init: RequestInit = {}): Promise<T> {
  return JSON.parse(await (await apiFetch(path, init)).text()) as T;
}

export interface DatasetSummary {
  name: string;
  version: number;
  schema_version: number;
  rows: number;
  bytes: number;
  updated: string;
}
export interface Column {
  name: string;
  type: string;
  nullable?: boolean;
}
export interface VersionInfo {
  version: number;
  operation: string;
  created_at: string;
  rows: number;
  bytes: number;
  schema_version: number;
  tombstone: boolean;
}
export interface DatasetDetail extends DatasetSummary {
  schema: Column[];
  fingerprint: string;
  head: any;
  versions: VersionInfo[];
}

export const listDatasets = () => getJson<{ datasets: DatasetSummary[] }>("/api/v1/datasets").then((r) => r.datasets);
export const getDataset = (name: string) => getJson<DatasetDetail>(`/api/v1/datasets/${encodeURIComponent(name)}`);
export const getVersion = (name: string, v: number) => getJson<any>(`/api/v1/datasets/${encodeURIComponent(name)}/versions/${v}`);
export const deleteDataset = (name: string) => getJson<any>(`/api/v1/datasets/${encodeURIComponent(name)}`, { method: "DELETE" });
export const presign = (name: string, expires = 3600) =>
  getJson<{ objects: { index: number; size: number; rows: number; url: string }[] }>(
    `/api/v1/datasets/${encodeURIComponent(name)}/data?presign=1&expires=${expires}`,
  );
export const health = () => getJson<any>("/health");

export type UploadMode = "create" | "append" | "replace";

export interface UploadHandle {
  promise: Promise<any>;
  cancel: () => void;
}

/**
 * Uploads a file with XMLHttpRequest (fetch has no upload progress). `onProgress(sent, total)`
 * follows the bytes on the wire; `onSent` fires once they are all sent (the server converts next).
 */
export function upload(
  file: Blob,
  name: string,
  mode: UploadMode,
  format: string | null,
  onProgress: (sent: number, total: number) => void,
  onSent: () => void,
): UploadHandle {
  const xhr = new XMLHttpRequest();
  const base = `/api/v1/datasets/${encodeURIComponent(name)}`;
  const url = (mode === "append" ? `${base}/append` : base) + (format ? `?format=${format}` : "");
  const promise = new Promise<any>((resolve, reject) => {
    xhr.open(mode === "replace" ? "PUT" : "POST", url);
    for (const [k, v] of Object.entries(headers())) xhr.setRequestHeader(k, v);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.upload.onload = () => onSent();
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(JSON.parse(xhr.responseText));
      else reject(new ApiError(parseError(xhr.status, xhr.responseText)));
    };
    xhr.onerror = () => reject(new ApiError(parseError(0, "")));
    xhr.onabort = () => reject(new DOMException("upload cancelled", "AbortError"));
    xhr.send(file);
  });
  return { promise, cancel: () => xhr.abort() };
}

export interface StreamCallbacks {
  onSchema: (schema: Schema) => void;
  onBatch: (batch: RecordBatch, bytes: number) => void;
}

/** Runs SQL with format=arrow and hands over each record batch as it arrives. */
export async function streamQuery(sql: string, signal: AbortSignal, cb: StreamCallbacks): Promise<void> {
  const res = await apiFetch("/api/v1/query", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/vnd.apache.arrow.stream" },
    body: JSON.stringify({ sql, format: "arrow" }),
    signal,
  });
  if (!res.body) throw new ApiError(parseError(res.status, ""));
  let bytes = 0;
  const counted = res.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, ctl) {
        bytes += chunk.byteLength;
        ctl.enqueue(chunk);
      },
    }),
  );
  const reader = await RecordBatchReader.from(counted);
  await reader.open();
  cb.onSchema(reader.schema);
  for await (const batch of reader) cb.onBatch(batch, bytes);
}
