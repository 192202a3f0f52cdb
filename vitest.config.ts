import { defineConfig } from "vitest/config";

// Tests run the TypeScript sources: each workspace package exports them under the "source" condition.
export default defineConfig({
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  test: {
    include: ["{packages,router,runtimes,test,examples}/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Some dependencies export their TypeScript under the same "source" condition (eventsource-parser,
    // used by the MCP SDK's HTTP client); Vite transforms them instead of handing .ts to Node.
    server: { deps: { inline: ["@modelcontextprotocol/sdk", "eventsource-parser"] } },
  },
});
