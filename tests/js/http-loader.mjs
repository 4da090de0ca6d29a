// A Node module loader for tests/js/base.test.mjs: `import()` of an
// http(s):// URL ending in /rex/v0/client.js loads this repository's
// client.js as if a server had served it there, so the module's own
// `import.meta.url` is that URL (Node does not fetch modules over HTTP).
// Nothing is fetched; other specifiers load as usual.

import { readFile } from "node:fs/promises";

const CLIENT = new URL("../../rex/src/server/js/client.js", import.meta.url);

const served = (url) => /^https?:\/\//.test(url) && new URL(url).pathname.endsWith("/rex/v0/client.js");

export async function resolve(specifier, context, next) {
  if (served(specifier)) return { url: specifier, shortCircuit: true };
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (served(url)) return { format: "module", source: await readFile(CLIENT, "utf8"), shortCircuit: true };
  return next(url, context);
}
