// Launches the system Chromium (`REX_CHROMIUM`, Debian's /usr/bin/chromium)
// headless for the browser tests; Playwright never downloads a browser here.

import { chromium } from "playwright-core";

/** Starts Chromium at `executablePath` with the flags this machine needs. */
export function launch(executablePath) {
  return chromium.launch({
    executablePath,
    headless: true,
    // Playwright gives each launch a fresh, temporary profile. Without the
    // background-networking flags Chromium tries to reach Google.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
