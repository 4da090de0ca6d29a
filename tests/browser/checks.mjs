// Checks the browser scripts share: that a page fits its window at every
// screen size people use (no sideways scrolling), that it has an icon, and
// that it logged no error and no failed request.

/**
 * The windows a page must fit: TVs and laptops at 16:9 (720p, the common
 * laptop panel, 1080p, 4K) and a portrait phone.
 */
export const SIZES = [
  { width: 1280, height: 720 },
  { width: 1366, height: 768 },
  { width: 1920, height: 1080 },
  { width: 3840, height: 2160 },
  { width: 390, height: 844 },
];

/**
 * Resizes `page` (called `name` in messages) to each of `SIZES` and
 * asserts that on its `screen` the page is no wider than its window
 * (`document.documentElement.scrollWidth`, against both `innerWidth` and
 * the width set: a mobile page's `innerWidth` grows with its content),
 * then gives the page its size back. Throws one error for all the sizes
 * that overflow, with each size, the measured widths and the element
 * reaching furthest out.
 *
 * `marker` is a selector on the page only on this screen: it must be
 * there before and after measuring, so a timed screen that changed
 * meanwhile is reported as such, not measured by mistake.
 */
export async function assertFits(page, name, screen, marker) {
  const what = `${name}'s ${screen} screen`;
  if ((await page.locator(marker).count()) === 0) throw new Error(`${what}: ${marker} is not on the page`);
  const original = page.viewportSize();
  const overflows = [];
  try {
    for (const size of SIZES) {
      await page.setViewportSize(size);
      const m = await page.evaluate(measure, size.width);
      if (m.scrollWidth > m.innerWidth || m.scrollWidth > size.width) {
        overflows.push(
          `at ${size.width}×${size.height} the page is ${m.scrollWidth} px wide ` +
            `(innerWidth ${m.innerWidth}, clientWidth ${m.clientWidth}); ` +
            `furthest out: ${m.widest || "(no element found)"}`,
        );
      }
    }
  } finally {
    await page.setViewportSize(original);
  }
  if ((await page.locator(marker).count()) === 0) {
    throw new Error(`${what}: the screen changed while its width was measured (${marker} is gone)`);
  }
  if (overflows.length) throw new Error(`${what} is wider than its window:\n  ${overflows.join("\n  ")}`);
}

/**
 * In the page: its widths, and the element whose right edge is furthest
 * past `width` without an ancestor that clips it (an element that only
 * overflows inside an `overflow: hidden` box widens nothing).
 */
function measure(width) {
  const root = document.documentElement;
  const limit = Math.min(width, window.innerWidth);
  let widest = null;
  let right = limit;
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    const edge = box.right + window.scrollX;
    // `>=`: of an element and its child that end at the same place, the
    // child (later in document order) is the more precise answer.
    if (edge <= limit || edge < right || clipped(el, limit)) continue;
    widest = el;
    right = edge;
  }
  const describe = (el) => {
    const id = el.id ? `#${el.id}` : "";
    const classes = [...el.classList].map((c) => `.${c}`).join("");
    const text = (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 40);
    const box = el.getBoundingClientRect();
    return `<${el.tagName.toLowerCase()}${id}${classes}> "${text}" at x ${Math.round(box.left)}–${Math.round(box.right)}`;
  };
  return {
    scrollWidth: root.scrollWidth,
    innerWidth: window.innerWidth,
    clientWidth: root.clientWidth,
    widest: widest && describe(widest),
  };

  function clipped(el, limit) {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== "visible" && up.getBoundingClientRect().right <= limit) return true;
    }
    return false;
  }
}

/**
 * Collects into `problems` what went wrong on `page` (called `name` in
 * the messages): script errors, console errors (a request that failed,
 * such as a missing `/favicon.ico`, which Chromium fetches itself and
 * reports only there), responses of 400 or more and requests that failed.
 * `expected(text)` may excuse a console error or a failed request (`text`
 * is the message, or `"<status or error> <method> <url>"`) the test
 * provokes on purpose. A request the page (or a reload) abandoned is
 * never a problem.
 */
export function watch(page, name, problems, expected = () => false) {
  const report = (what) => {
    if (!expected(what)) problems.push(`${name}: ${what}`);
  };
  page.on("pageerror", (err) => problems.push(`${name}: script error: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const where = msg.location().url;
    report(`console error: ${msg.text()}${where ? ` (${where})` : ""}`);
  });
  page.on("response", (response) => {
    if (response.status() >= 400) report(`${response.status()} ${response.request().method()} ${response.url()}`);
  });
  page.on("requestfailed", (request) => {
    const error = request.failure()?.errorText ?? "failed";
    if (error !== "net::ERR_ABORTED") report(`${error} ${request.method()} ${request.url()}`);
  });
}

/**
 * Asserts that `page` names an icon (`<link rel="icon">`, so the browser
 * does not ask for `/favicon.ico`) and that the icon loads as an image.
 */
export async function assertIcon(page, what) {
  const icon = await page.evaluate(async () => {
    const link = document.querySelector('link[rel~="icon"]');
    if (!link) return { error: 'no <link rel="icon">' };
    const response = await fetch(link.href).catch((e) => ({ ok: false, status: String(e) }));
    if (!response.ok) return { error: `${link.getAttribute("href")} answered ${response.status}` };
    const img = new Image();
    img.src = link.href;
    const decoded = await img.decode().then(
      () => true,
      () => false,
    );
    const type = response.headers.get("content-type");
    return decoded ? { href: link.getAttribute("href"), type } : { error: `${link.getAttribute("href")} (${type}) is not an image` };
  });
  if (icon.error) throw new Error(`${what} has no icon: ${icon.error}`);
}
