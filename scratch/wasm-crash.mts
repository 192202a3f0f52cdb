import { IsolateRuntime } from "/work/wt/edge/runtimes/isolate/src/index.ts";
const rt = new IsolateRuntime({ poolSize: 2, memoryMb: 64, maxExecutions: 500, fetchAllow: [], fetchTimeoutMs: 1000, fetchMaxBytes: 1000 });
const req = (code: string) => ({ language: "javascript" as const, code, inputs: {}, timeoutMs: 5000, isolation: "sandbox" as const, maxOutputBytes: 1 << 20 });
const attacks = [
  `const ms = []; while (true) { ms.push(new WebAssembly.Memory({ initial: 1024 })) }`,
  `const m = new WebAssembly.Memory({ initial: 1, maximum: 65536 }); while (true) m.grow(1024)`,
  `const a = []; while (true) a.push(new Array(1e6).fill(1))`,
];
for (const code of attacks) {
  const r = await rt.execute(req(code));
  console.log(r.ok, r.error?.kind, r.error?.message.slice(0, 100), "rss MB", process.memoryUsage().rss >> 20);
}
if (process.argv[2] === "close") await rt.close();
console.log("end");
