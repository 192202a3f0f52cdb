export { main, EXIT } from "./main.js";
export type { Io } from "./io.js";
