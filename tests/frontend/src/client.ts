// A small front-end client of the guichet, typed from the contract alone (issue 12): the types
// come from openapi/openapi.json (`npm run generate`, never committed, so they never drift),
// and `tsc --noEmit` fails when the contract stops fitting what a front-end does here.
import type { components, paths } from "../generated/api";

type Schemas = components["schemas"];
type JsonBody<Op> = Op extends {
  requestBody: { content: { "application/json": infer Body } };
}
  ? Body
  : never;
type Ok<Op, Status extends number> = Op extends {
  responses: { [S in Status]: { content: { "application/json": infer Body } } };
}
  ? Body
  : never;

export type ProjectCreate = JsonBody<paths["/api/v1/projects"]["post"]>;
export type ProjectRead = Ok<paths["/api/v1/projects"]["post"], 201>;
export type ProjectPage = Ok<paths["/api/v1/projects"]["get"], 200>;
export type ProjectQuery = NonNullable<paths["/api/v1/projects"]["get"]["parameters"]["query"]>;
export type Submitted = Ok<paths["/api/v1/projects/{project_id}/submit"]["post"], 200>;
export type Problem = Schemas["Problem"];
// The If-Match header the submit operation declares (R-FLOW-3).
export type SubmitHeaders = paths["/api/v1/projects/{project_id}/submit"]["post"]["parameters"]["header"];

export class ProblemError extends Error {
  constructor(readonly problem: Problem) {
    super(`${problem.status} ${problem.code}: ${problem.detail}`);
  }
}

export class Guichet {
  constructor(
    private readonly base: string,
    private readonly token: string,
  ) {}

  private async send<T>(method: string, path: string, init: { body?: unknown; headers?: Record<string, string> } = {}): Promise<{ body: T; response: Response }> {
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${this.token}`,
        ...(init.body === undefined ? {} : { "Content-Type": "application/json" }),
        ...init.headers,
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    if (response.headers.get("content-type") === "application/problem+json") {
      throw new ProblemError((await response.json()) as Problem);
    }
    return { body: (await response.json()) as T, response };
  }

  /** File a draft; the answer carries its ETag and its Location. */
  async create(draft: ProjectCreate): Promise<{ project: ProjectRead; etag: string; location: string }> {
    const { body, response } = await this.send<ProjectRead>("POST", "/api/v1/projects", { body: draft });
    return {
      project: body,
      etag: response.headers.get("ETag") ?? "",
      location: response.headers.get("Location") ?? `/api/v1/projects/${body.id}`,
    };
  }

  /** Submit with the ETag just read (If-Match, R-FLOW-3): 412 when someone changed it. */
  async submit(id: ProjectRead["id"], etag: string): Promise<Submitted> {
    const headers: SubmitHeaders = { "If-Match": etag };
    const { body } = await this.send<Submitted>("POST", `/api/v1/projects/${id}/submit`, { headers });
    return body;
  }

  /** Every dossier in scope, page after page (keyset cursor, `next_cursor`). */
  async *list(query: ProjectQuery = {}): AsyncGenerator<ProjectPage["items"][number]> {
    let cursor: string | null | undefined = undefined;
    do {
      const params = new URLSearchParams();
      for (const [name, value] of Object.entries({ ...query, ...(cursor ? { cursor } : {}) })) {
        if (value !== undefined && value !== null) params.set(name, String(value));
      }
      const { body } = await this.send<ProjectPage>("GET", `/api/v1/projects?${params}`);
      yield* body.items;
      cursor = body.next_cursor;
    } while (cursor);
  }
}

/** The afternoon's journey: file, submit, list, and read a refusal a person can act on. */
export async function journey(guichet: Guichet): Promise<string[]> {
  const { project, etag } = await guichet.create({
    strand: "3c",
    title: "Prise de rendez-vous en ligne",
    description: "Un service de prise de rendez-vous en ligne pour l'état civil.",
    nature: "modernisation",
    start_on: "2021-06-01",
    end_on: "2022-06-30",
    sponsor: { name: "Mme la Maire", role: "Maire" },
    expense_lines: [{ category: "development", label: "Développement", amount_cents: 4_000_000 }],
    requested_cents: 3_000_000,
  });
  const submitted = await guichet.submit(project.id, etag);
  const statuses: string[] = [submitted.status];
  for await (const summary of guichet.list({ status: "submitted", limit: 50 })) {
    statuses.push(`${summary.id} ${summary.status}`);
  }
  try {
    await guichet.submit(project.id, etag); // stale ETag: a problem, not a crash
  } catch (error) {
    if (error instanceof ProblemError) {
      const where = (error.problem.errors ?? []).map((item) => `${item.field}: ${item.message}`);
      statuses.push(`${error.problem.status} ${error.problem.code} ${error.problem.detail}`, ...where);
    } else {
      throw error;
    }
  }
  return statuses;
}
