import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ROUTER_ENV, type RuntimeDefinition } from "coderouter";
import { SERVER_ENV } from "@coderouter/server";
import subprocess from "@coderouter/runtime-subprocess";
import isolate from "@coderouter/runtime-isolate";
import wasm from "@coderouter/runtime-wasm";
import e2b from "@coderouter/runtime-e2b";
import bacalhau from "@coderouter/runtime-bacalhau";

const read = (name: string) => readFileSync(new URL(`../${name}`, import.meta.url), "utf8");

describe("the documented configuration", () => {
  const definitions: RuntimeDefinition[] = [subprocess, isolate, wasm, e2b, bacalhau];
  const variables = [...Object.keys(ROUTER_ENV), ...Object.keys(SERVER_ENV), ...definitions.flatMap((d) => Object.keys(d.env))];

  it("lists every variable any package reads in .env.example and in the README", () => {
    const example = read(".env.example");
    const readme = read("README.md");
    for (const name of variables) {
      expect(example, `${name} in .env.example`).toMatch(new RegExp(`^${name}=`, "m"));
      expect(readme, `${name} in README.md`).toContain(name);
    }
  });
});
