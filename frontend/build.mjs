// `make assets`: copies the pinned packages' built files where the service and the tests read
// them. Nothing is fetched at run time: the service serves app/dashboard/static itself.
// - DSFR CSS without its @font-face rules (the Marianne and Spectral fonts' licence is
//   restricted: the design system falls back on the system fonts), with its licence.
// - axe-core for the browser tests (injected by tests/dashboard), with its licence.
import { mkdirSync, readFileSync, writeFileSync, copyFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const modules = join(here, "node_modules");
const vendor = join(root, "app", "dashboard", "static", "vendor");
const testVendor = join(root, "tests", "dashboard", "vendor");

function version(pkg) {
  return JSON.parse(readFileSync(join(modules, pkg, "package.json"), "utf8")).version;
}

mkdirSync(join(vendor, "dsfr"), { recursive: true });
mkdirSync(testVendor, { recursive: true });

const dsfr = join(modules, "@gouvfr", "dsfr");
// The core and the components the page uses only (half the size of the whole dsfr.min.css);
// their url(../icons/…) become url(icons/…) beside the one file.
const COMPONENTS = ["link", "button", "form", "input", "alert", "table", "logo", "header", "footer", "skiplink"];
const parts = [join("core", "core.min.css"), ...COMPONENTS.map((c) => join("component", c, `${c}.min.css`))];
const css = parts.map((part) => readFileSync(join(dsfr, "dist", part), "utf8")).join("\n");
const stripped = css
  .replace(/@font-face\{[^}]*\}/g, "")
  .replace(/\/\*# sourceMappingURL=[^*]*\*\//g, "")
  .replace(/url\((["']?)(\.\.\/)+icons\//g, "url($1icons/");
// The icons the CSS refers to (url(icons/…)), copied beside it; nothing else may be referred to.
const refs = new Set([...stripped.matchAll(/url\((?!["']?data:)["']?([^)"']+)["']?\)/g)].map((m) => m[1]));
for (const ref of refs) {
  if (!/^icons\/[a-z0-9-]+\/[A-Za-z0-9_.-]+\.svg$/.test(ref)) {
    throw new Error(`dsfr.min.css refers to ${ref}`);
  }
  mkdirSync(dirname(join(vendor, "dsfr", ref)), { recursive: true });
  copyFileSync(join(dsfr, "dist", ref), join(vendor, "dsfr", ref));
}
writeFileSync(
  join(vendor, "dsfr", "dsfr.min.css"),
  `/*! @gouvfr/dsfr ${version("@gouvfr/dsfr")}: core and ${COMPONENTS.join(", ")}; Marianne and Spectral font rules removed (system fonts) */\n` + stripped,
);
copyFileSync(join(dsfr, "LICENSE.md"), join(vendor, "dsfr", "LICENSE.md"));

const axe = join(modules, "axe-core");
copyFileSync(join(axe, "axe.min.js"), join(testVendor, "axe.min.js"));
copyFileSync(join(axe, "LICENSE"), join(testVendor, "axe-core.LICENSE"));
writeFileSync(
  join(testVendor, "VERSIONS"),
  `axe-core ${version("axe-core")}\n`,
);
writeFileSync(
  join(vendor, "VERSIONS"),
  `@gouvfr/dsfr ${version("@gouvfr/dsfr")}\n`,
);
console.log("assets built");
