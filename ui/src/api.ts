// The REST API of `drone ui` (docs/api.md), typed loosely: the result contract is large and
// extended over time, so views read what they need and tolerate what is missing.
export type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

export class ApiError extends Error {
  constructor(public status: number, public body: Json) {
    super(body && body.error ? body.error : `HTTP ${status}`);
  }
}

async function request(method: string, path: string, body?: Json): Promise<Json> {
  const init: RequestInit = { method, headers: {} };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)["Content-Type"] = "application/json";
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let parsed: Json = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { error: text };
  }
  if (!res.ok) throw new ApiError(res.status, parsed);
  return parsed;
}

export const api = {
  flows: () => request("GET", "/api/flows"),
  flow: (name: string) => request("GET", `/api/flows/${encodeURIComponent(name)}`),
  validate: (name: string, params: Record<string, string>) =>
    request("POST", `/api/flows/${encodeURIComponent(name)}/validate`, { params }),
  start: (flow: string, params: Record<string, string>) => request("POST", "/api/runs", { flow, params }),
  runs: (query: string) => request("GET", `/api/runs${query}`),
  run: (id: string) => request("GET", `/api/runs/${encodeURIComponent(id)}?series=false`),
  events: (id: string) => request("GET", `/api/runs/${encodeURIComponent(id)}/events`),
  series: (id: string, points: number) =>
    request("GET", `/api/runs/${encodeURIComponent(id)}/series?points=${points}`),
  logs: async (id: string, step: string): Promise<string> => {
    const res = await fetch(`/api/runs/${encodeURIComponent(id)}/logs/${encodeURIComponent(step)}`);
    const text = await res.text();
    if (!res.ok) {
      try {
        return JSON.parse(text).error;
      } catch {
        return text;
      }
    }
    return text;
  },
};

export function streamUrl(id: string): string {
  return `/api/runs/${encodeURIComponent(id)}/stream`;
}
