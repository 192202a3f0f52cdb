import { IsolateRuntime } from "/work/wt/edge/runtimes/isolate/src/index.ts";
const rt = new IsolateRuntime({ poolSize: 2, memoryMb: 256, maxExecutions: 500, fetchAllow: [], fetchTimeoutMs: 1000, fetchMaxBytes: 1000 });
const req = (code: string, memoryMb = 256) => ({ language: "javascript" as const, code, inputs: {}, timeoutMs: 10000, isolation: "sandbox" as const, maxOutputBytes: 1 << 20, memoryMb });
const code = process.argv[2] === "b" ? `const ab = new ArrayBuffer(100 * 1024 * 1024); let view = new Array(ab.byteLength); let array = new Uint8Array(ab); let i = view.length; while (i--) view[i] = array[i]` : `const s = []; let x = "a"; while (true) { x = x + x; s.push(x) }`;
const r = await rt.execute(req(code, Number(process.argv[3] ?? 256)));
console.log(r.ok, r.error?.kind, r.error?.message.slice(0, 200));
console.log((await rt.execute(req("1+1"))).output);
await rt.close();
