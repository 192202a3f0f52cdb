import { WebSocket } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalBacalhau } from "./server.js";

/** The stand-in's own contract, through raw HTTP, where it must answer as a v1.9 orchestrator does. */

const server = new LocalBacalhau({ scheduleDelayMs: 400, pullDelayMs: 500 });
beforeAll(() => server.start());
afterAll(() => server.close());

const base = () => `http://${server.host}:${server.port}/api/v1/orchestrator`;
const task = (extra: Record<string, unknown> = {}) => ({
  Name: "main",
  Engine: { Type: "docker", Params: { Image: "python:3.12-slim", Entrypoint: ["python3", "-c", "print('hi')"] } },
  ...extra,
});
const submit = (job: Record<string, unknown>) =>
  fetch(`${base()}/jobs`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ Job: { Name: "t", Type: "batch", Count: 1, ...job } }),
  });

function logMessages(id: string): Promise<{ messages: unknown[]; code: number }> {
  return new Promise((resolve) => {
    const messages: unknown[] = [];
    const socket = new WebSocket(`ws://${server.host}:${server.port}/api/v1/orchestrator/jobs/${id}/logs?follow=true`);
    socket.addEventListener("message", (event) => messages.push(JSON.parse(String(event.data))));
    socket.addEventListener("close", (event) => resolve({ messages, code: event.code }));
  });
}

describe("the local orchestrator", () => {
  it("validates task env as models.ValidateEnvVars does, answering with a JSON APIError", async () => {
    for (const [Env, message] of [
      [{ lower: "x" }, "environment variable 'lower' must be uppercase"],
      [{ BACALHAU_X: "x" }, "environment variable 'BACALHAU_X' cannot start with BACALHAU_"],
      [{ EMPTY: "" }, "environment variable 'EMPTY' cannot have empty value"],
      [{ "1X": "x" }, "environment variable '1X' must start with a letter"],
    ] as const) {
      const response = await submit({ Tasks: [task({ Env })] });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ Status: 400, Code: "ValidationError", Message: `invalid task: ${message}` });
    }
    expect((await submit({ Tasks: [task({ Network: { Type: "Sandbox" } })] })).status).toBe(400);
  });

  it("refuses logs while the job has no execution, then streams them; RunOutput is never null", async () => {
    server.forgetImages();
    const { JobID } = (await (await submit({ Tasks: [task({ Resources: { CPU: "500m" } })] })).json()) as { JobID: string };
    const early = await logMessages(JobID);
    expect(early.code).toBe(1000);
    expect(early.messages).toEqual([{ error: expect.stringMatching(/no executions found for job t with ID/), value: { Type: 0, Line: "" } }]);
    for (let i = 0; i < 100 && server.jobs.get(JobID)!.executions.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    // Still pulling the image: the execution exists, its run has not.
    const running = (await (await fetch(`${base()}/jobs/${JobID}/executions`)).json()) as { Items: { RunOutput: unknown }[] };
    expect(running.Items[0]!.RunOutput).toMatchObject({ Stdout: "", ExitCode: 0 });
    expect((await logMessages(JobID)).messages).toContainEqual({ value: { Type: 1, Line: "hi\n" } });
  });

  it("cannot place a job asking for more than 80% of the node's CPUs", async () => {
    const { JobID } = (await (await submit({ Tasks: [task({ Resources: { CPU: "1" } })] })).json()) as { JobID: string };
    for (let i = 0; i < 100 && server.jobs.get(JobID)!.state === "Pending"; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(server.jobs.get(JobID)).toMatchObject({ state: "Failed", message: expect.stringMatching(/^not enough nodes to run job/), executions: [] });
  });

  it("reads a DELETE's reason from its JSON body, not the query", async () => {
    const { JobID } = (await (await submit({ Tasks: [task({ Resources: { CPU: "500m" } })] })).json()) as { JobID: string };
    await fetch(`${base()}/jobs/${JobID}?reason=query`, {
      method: "DELETE",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ reason: "body" }),
    });
    expect(server.jobs.get(JobID)).toMatchObject({ state: "Stopped", stopReason: "body" });
  });
});
