// /tableau-de-bord/: the tile map of the départements, coloured by rate of use. The national
// view shows France (overseas on the last row); a prefect's shows its région only, zoomed.
import { REGIONS, TILES } from "./tiles.js";
import { el, rate } from "./format.js";

const $ = (id) => document.getElementById(id);

export const NAMES = new Map(TILES.map((t) => [t.code, t.name]));
const REGION_OF = new Map(TILES.map((t) => [t.code, t.region]));

const LEVELS = [
  [0, "moins de 20 %"],
  [2000, "de 20 à 40 %"],
  [4000, "de 40 à 60 %"],
  [6000, "de 60 à 80 %"],
  [8000, "80 % et plus"],
];

function level(bps) {
  if (bps === null || bps === undefined) return "niveau-aucun";
  let index = 0;
  LEVELS.forEach(([floor], i) => {
    if (bps >= floor) index = i;
  });
  return `niveau-${index}`;
}

// The région of a département (its COG code and name), or null (a COM has none).
export function regionOf(code) {
  const region = REGION_OF.get(code);
  return region ? { code: region, name: REGIONS[region] } : null;
}

// The tiles to draw: all of France, or the région of `departement` (the département alone
// for a COM), moved to the top left corner so that the grid holds only them.
function tilesFor(departement, envelopes) {
  if (departement) {
    const region = REGION_OF.get(departement);
    const own = TILES.filter((t) => (region ? t.region === region : t.code === departement));
    const chosen = own.length ? own : [{ code: departement, name: departement, col: 0, row: 0 }];
    const col = Math.min(...chosen.map((t) => t.col));
    const row = Math.min(...chosen.map((t) => t.row));
    return chosen.map((t) => ({ ...t, col: t.col - col, row: t.row - row }));
  }
  const tiles = [...TILES];
  const lastRow = Math.max(...TILES.map((t) => t.row));
  let extra = 0;
  for (const code of envelopes.keys()) {
    if (!NAMES.has(code)) tiles.push({ code, name: code, col: extra++, row: lastRow + 1 });
  }
  return tiles;
}

// `departement`: the prefect's (its région is drawn), or null for the national map.
export function renderMap(byDep, envelopes, departement) {
  $("legende").replaceChildren(
    ...LEVELS.map(([floor, label]) => el("li", { className: level(floor), text: label })),
    el("li", { className: "niveau-aucun", text: "sans enveloppe ou non lisible" }),
  );
  const tiles = tilesFor(departement, envelopes);
  const region = departement ? regionOf(departement) : null;
  const map = $("carte");
  map.className = departement ? "carte carte--region" : "carte";
  map.dataset.region = region ? region.code : "";
  const columns = Math.max(...tiles.map((t) => t.col)) + 1;
  map.style.gridTemplateColumns = `repeat(${departement ? Math.max(columns, 3) : 12}, minmax(0, 1fr))`;
  $("carte-titre").textContent = region ? `Taux d'utilisation dans la région ${region.name}` : "Taux d'utilisation par département";
  $("carte-description").textContent = departement
    ? `Les départements de votre région${region ? ` (${region.name})` : ""}, chacun à sa place ; seul le vôtre est coloré : les enveloppes des autres départements ne sont lisibles que par leur préfecture, la DINUM et l'ANCT.`
    : "Une case par département (outre-mer sur la dernière ligne), colorée selon la part de l'enveloppe engagée. Les mêmes chiffres sont dans le tableau des départements.";
  map.replaceChildren(
    ...tiles.map((tile) => {
      const envelope = envelopes.get(tile.code);
      const figures = byDep.get(tile.code);
      const bps = envelope ? (figures?.use_rate_bps ?? envelope.use_rate_bps) : null;
      const label = envelope
        ? `${tile.name} (${tile.code}) : enveloppe engagée à ${rate(bps)}`
        : `${tile.name} (${tile.code}) : ${departement ? "non lisible" : "sans enveloppe"}`;
      const item = el(
        "li",
        { className: level(bps), "data-departement": tile.code, title: label },
        el("span", { className: "tuile__code", "aria-hidden": "true", text: tile.code }),
        el("span", { className: "tuile__taux", "aria-hidden": "true", text: envelope ? rate(bps) : "" }),
        el("span", { className: "fr-sr-only", text: label }),
      );
      if (departement) item.append(el("span", { className: "tuile__nom", "aria-hidden": "true", text: tile.name }));
      if (envelope) item.setAttribute("data-rate-bps", String(bps));
      item.style.gridColumn = String(tile.col + 1);
      item.style.gridRow = String(tile.row + 1);
      return item;
    }),
  );
}
