// /tableau-de-bord/: reads the public API with the caller's bearer token (an example client).
// GET /auth/me says who: DINUM and ANCT see the national figures and every département; a
// prefect its département.
// The token lives in this tab's sessionStorage only, never in an address.
import { TILES } from "./tiles.js";

const API = "/api/v1";
const TOKEN_KEY = "guichet.tableau-de-bord.jeton";
const SVG = "http://www.w3.org/2000/svg";
const NAMES = new Map(TILES.map((t) => [t.code, t.name]));
const STRANDS = { "3a": "Volet 3a", "3b": "Volet 3b", "3c": "Volet 3c" };
const KINDS = {
  commune: "Communes",
  departement: "Départements",
  region: "Régions",
  collectivite_outre_mer: "Collectivités d'outre-mer",
  epci: "EPCI",
  syndicat: "Syndicats",
  public_body: "Organismes publics locaux",
};

const euros = new Intl.NumberFormat("fr-FR", { style: "currency", currency: "EUR", maximumFractionDigits: 2 });
const integer = new Intl.NumberFormat("fr-FR");
const percent = new Intl.NumberFormat("fr-FR", { minimumFractionDigits: 1, maximumFractionDigits: 2 });
const monthName = new Intl.DateTimeFormat("fr-FR", { month: "long", year: "numeric", timeZone: "UTC" });

const state = { from: "", to: "", sort: { key: "departement", ascending: true }, rows: [] };

const $ = (id) => document.getElementById(id);
const money = (cents) => euros.format(cents / 100);
const rate = (bps) => (bps === null || bps === undefined ? "—" : `${percent.format(bps / 100)} %`);
const depName = (code) => `${NAMES.get(code) ?? code} (${code})`;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else if (key === "className") node.className = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function svgEl(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function say(text, kind = "info") {
  const box = $("message");
  box.replaceChildren();
  if (text) box.append(el("p", { className: `fr-alert fr-alert--${kind} fr-alert--sm`, text }));
}

async function api(path, params = {}, accept = "application/json") {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v));
  const url = `${API}${path}${query.size ? `?${query}` : ""}`;
  return fetch(url, { headers: { Authorization: `Bearer ${token()}`, Accept: accept } });
}

async function json(response) {
  if (!response.ok) {
    let detail = `${response.status}`;
    try {
      detail = (await response.json()).detail ?? detail;
    } catch {
      /* not a problem body */
    }
    throw new Error(detail);
  }
  return response.json();
}

async function allEnvelopes() {
  const items = [];
  let cursor = "";
  do {
    const page = await json(await api("/envelopes", { limit: "200", cursor }));
    items.push(...page.items);
    cursor = page.next_cursor ?? "";
  } while (cursor);
  return items;
}

function waiting(figures) {
  return figures.projects_by_status
    .filter((s) => s.status === "submitted" || s.status === "in_review")
    .reduce((sum, s) => sum + s.projects, 0);
}

// ---- data boxes -------------------------------------------------------------------------
const BOXES = [
  ["allocated_cents", "Alloué", (f) => f.allocated_cents, money],
  ["committed_cents", "Engagé", (f) => f.committed_cents, money],
  ["paid_cents", "Payé", (f) => f.paid_cents, money],
  ["available_cents", "Disponible", (f) => f.available_cents, money],
  ["use_rate_bps", "Taux d'utilisation", (f) => f.use_rate_bps, rate],
  ["waiting", "Dossiers en attente", waiting, (n) => integer.format(n)],
  ["committees_due", "Comités dus", (f) => f.committees_due, (n) => integer.format(n)],
  // of the period (the envelope's figures above are its state today)
  ["decisions", "Décisions de la période", (f) => f.decisions, (n) => integer.format(n)],
  ["committees_held", "Comités tenus sur la période", (f) => f.committees_held, (n) => integer.format(n)],
];

function renderBoxes(figures) {
  $("chiffres").replaceChildren(
    ...BOXES.map(([key, label, read, format]) => {
      const value = read(figures);
      return el(
        "li",
        { "data-figure": key, "data-value": String(value) },
        el("span", { className: "chiffre__libelle", text: label }),
        el("span", { className: "chiffre__valeur", text: format(value) }),
      );
    }),
  );
}

// ---- tile map ---------------------------------------------------------------------------
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

function renderMap(byDep, envelopes) {
  $("legende").replaceChildren(
    ...LEVELS.map(([floor, label]) => el("li", { className: level(floor), text: label })),
    el("li", { className: "niveau-aucun", text: "sans enveloppe" }),
  );
  const tiles = [...TILES];
  const lastRow = Math.max(...TILES.map((t) => t.row));
  let extra = 0;
  for (const code of envelopes.keys()) {
    if (!NAMES.has(code)) tiles.push({ code, name: code, col: extra++, row: lastRow + 1 });
  }
  $("carte").replaceChildren(
    ...tiles.map((tile) => {
      const envelope = envelopes.get(tile.code);
      const figures = byDep.get(tile.code);
      const bps = envelope ? (figures?.use_rate_bps ?? envelope.use_rate_bps) : null;
      const label = envelope
        ? `${tile.name} (${tile.code}) : ${rate(bps)} de l'enveloppe engagé`
        : `${tile.name} (${tile.code}) : sans enveloppe`;
      const item = el(
        "li",
        { className: level(bps), "data-departement": tile.code, title: label },
        el("span", { className: "tuile__code", "aria-hidden": "true", text: tile.code }),
        el("span", { className: "tuile__taux", "aria-hidden": "true", text: envelope ? rate(bps) : "" }),
        el("span", { className: "fr-sr-only", text: label }),
      );
      if (envelope) item.setAttribute("data-rate-bps", String(bps));
      item.style.gridColumn = String(tile.col + 1);
      item.style.gridRow = String(tile.row + 1);
      return item;
    }),
  );
}

// ---- charts, each with its table --------------------------------------------------------
function dataTable(caption, headers, rows) {
  // focusable: on a narrow screen the table scrolls, and the keyboard must reach it
  const table = el(
    "table",
    { tabindex: "0" },
    el("caption", { text: caption }),
    el("thead", {}, el("tr", {}, ...headers.map((h, i) => el("th", { scope: "col", className: i ? "nombre" : "", text: h })))),
    el(
      "tbody",
      {},
      ...rows.map((cells) =>
        el("tr", {}, ...cells.map((c, i) => el(i ? "td" : "th", i ? { className: "nombre", text: c } : { scope: "row", text: c }))),
      ),
    ),
  );
  return el("div", { className: "fr-table" }, table);
}

function barChart(figure, id, title, items) {
  // items: [{label, requested, granted}], two bars each (demandé, accordé)
  const max = Math.max(1, ...items.flatMap((i) => [i.requested, i.granted]));
  const rowHeight = 44;
  const width = 600;
  const left = 150;
  const svg = svgEl("svg", {
    viewBox: `0 0 ${width} ${items.length * rowHeight + 30}`,
    role: "img",
    "aria-labelledby": `${id}-titre ${id}-resume`,
  });
  svg.append(svgEl("title", { id: `${id}-titre` }, title));
  const summary = items.map((i) => `${i.label} : demandé ${money(i.requested)}, accordé ${money(i.granted)}`).join(" ; ");
  svg.append(svgEl("desc", { id: `${id}-resume` }, summary || "Aucune donnée."));
  items.forEach((item, index) => {
    const y = index * rowHeight + 4;
    svg.append(svgEl("text", { x: 0, y: y + 22 }, item.label));
    const w1 = ((width - left - 10) * item.requested) / max;
    const w2 = ((width - left - 10) * item.granted) / max;
    svg.append(svgEl("rect", { class: "barre-demande", x: left, y, width: w1, height: 16 }));
    svg.append(svgEl("rect", { class: "barre-accorde", x: left, y: y + 18, width: w2, height: 16 }));
  });
  const legendY = items.length * rowHeight + 18;
  svg.append(svgEl("rect", { class: "barre-demande", x: left, y: legendY - 10, width: 12, height: 12 }));
  svg.append(svgEl("text", { x: left + 18, y: legendY }, "Demandé"));
  svg.append(svgEl("rect", { class: "barre-accorde", x: left + 110, y: legendY - 10, width: 12, height: 12 }));
  svg.append(svgEl("text", { x: left + 128, y: legendY }, "Accordé"));
  const table = dataTable(
    title,
    [items.length ? "Libellé" : "—", "Demandé", "Accordé"],
    items.map((i) => [i.label, money(i.requested), money(i.granted)]),
  );
  figure.replaceChildren(svg, el("figcaption", { className: "fr-sr-only", text: `${title} : le tableau suit.` }), table);
}

function lineChart(figure, series) {
  const id = "mois-graphique";
  const width = 600;
  const height = 220;
  const pad = 40;
  const max = Math.max(1, ...series.map((m) => m.commitments_cents));
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": `${id}-titre ${id}-resume` });
  svg.append(svgEl("title", { id: `${id}-titre` }, "Montants engagés par mois"));
  const summary = series.map((m) => `${monthName.format(new Date(`${m.month}-01T00:00:00Z`))} : ${money(m.commitments_cents)}`).join(" ; ");
  svg.append(svgEl("desc", { id: `${id}-resume` }, summary || "Aucun engagement sur la période."));
  svg.append(svgEl("line", { class: "axe", x1: pad, y1: height - pad, x2: width - 10, y2: height - pad }));
  svg.append(svgEl("line", { class: "axe", x1: pad, y1: 10, x2: pad, y2: height - pad }));
  const step = series.length > 1 ? (width - pad - 60) / (series.length - 1) : 0;
  const points = series.map((m, i) => [pad + 10 + i * step, height - pad - ((height - pad - 20) * m.commitments_cents) / max]);
  if (points.length) svg.append(svgEl("polyline", { class: "ligne", points: points.map((p) => p.join(",")).join(" ") }));
  // At most eight month labels under the axis (two years of months would overlap); every
  // month stays in the table below and in the description.
  const every = Math.max(1, Math.ceil(series.length / 8));
  points.forEach(([x, y], i) => {
    svg.append(svgEl("circle", { class: "point", cx: x, cy: y, r: 4 }));
    if (i % every === 0) svg.append(svgEl("text", { x, y: height - pad + 16, "text-anchor": "middle" }, series[i].month));
  });
  const table = dataTable(
    "Engagements et paiements par mois",
    ["Mois", "Engagements", "Montant engagé", "Paiements", "Montant payé"],
    series.map((m) => [
      monthName.format(new Date(`${m.month}-01T00:00:00Z`)),
      integer.format(m.commitments),
      money(m.commitments_cents),
      integer.format(m.payments),
      money(m.payments_cents),
    ]),
  );
  figure.replaceChildren(svg, table);
}

// ---- sortable table of départements -----------------------------------------------------
const COLUMNS = [
  ["departement", "Département", (r) => r.departement, (r) => depName(r.departement)],
  ["allocated_cents", "Alloué", (r) => r.allocated_cents, (r) => money(r.allocated_cents)],
  ["committed_cents", "Engagé", (r) => r.committed_cents, (r) => money(r.committed_cents)],
  ["paid_cents", "Payé", (r) => r.paid_cents, (r) => money(r.paid_cents)],
  ["available_cents", "Disponible", (r) => r.available_cents, (r) => money(r.available_cents)],
  ["use_rate_bps", "Taux d'utilisation", (r) => r.use_rate_bps, (r) => rate(r.use_rate_bps)],
  ["waiting", "Dossiers en attente", (r) => r.waiting, (r) => integer.format(r.waiting)],
  ["committees_due", "Comité dû", (r) => r.committees_due, (r) => (r.committees_due ? "oui" : "non")],
];

function renderTable() {
  const { key, ascending } = state.sort;
  const read = COLUMNS.find((c) => c[0] === key)[2];
  const rows = [...state.rows].sort((a, b) => {
    const x = read(a);
    const y = read(b);
    const order = x < y ? -1 : x > y ? 1 : 0;
    return ascending ? order : -order;
  });
  const head = el(
    "tr",
    {},
    ...COLUMNS.map(([name, label]) => {
      const th = el("th", { scope: "col", className: name === "departement" ? "" : "nombre" });
      if (name === key) th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const button = el("button", { type: "button", className: "tri", "data-sort": name, text: label });
      button.addEventListener("click", () => {
        state.sort = { key: name, ascending: state.sort.key === name ? !state.sort.ascending : true };
        renderTable();
        document.querySelector(`#departements button[data-sort="${name}"]`).focus();
      });
      th.append(button);
      return th;
    }),
  );
  $("departements").tHead.replaceChildren(head);
  $("departements").tBodies[0].replaceChildren(
    ...rows.map((r) =>
      el(
        "tr",
        { "data-departement": r.departement },
        ...COLUMNS.map(([name, , , show], i) =>
          i ? el("td", { className: "nombre", "data-col": name, text: show(r) }) : el("th", { scope: "row", text: show(r) }),
        ),
      ),
    ),
  );
}

// ---- loading ------------------------------------------------------------------------------
function period() {
  return { from: state.from, to: state.to };
}

async function load() {
  say("Chargement des chiffres…");
  const meResponse = await api("/auth/me");
  if (meResponse.status === 401) {
    say("Jeton refusé ou expiré : reconnectez-vous.", "error");
    return;
  }
  const me = await json(meResponse);
  const nationalView = me.role === "dinum" || me.role === "anct";
  if (!nationalView && me.role !== "prefect") {
    say("Ce tableau de bord est réservé à la DINUM, à l'ANCT et aux préfectures.", "error");
    return;
  }
  const params = { ...period(), group_by: "month" };
  const [national, departements, committees, envelopes] = await Promise.all([
    nationalView ? api("/stats/national", params).then(json) : Promise.resolve(null),
    api("/stats/departements", params).then(json),
    api("/committees/status").then(json),
    allEnvelopes(),
  ]);
  const due = new Map(committees.items.map((c) => [c.departement, c.due]));
  const byDep = new Map(departements.items.map((d) => [d.departement, d]));
  const envelopeByDep = new Map(envelopes.map((e) => [e.departement, e]));
  let figures = national;
  if (national) {
    $("titre").textContent = "Tableau de bord national";
    $("perimetre").textContent = "Toutes les enveloppes départementales du programme.";
  } else {
    $("titre").textContent = `Tableau de bord — ${depName(me.departement)}`;
    $("perimetre").textContent = "Les chiffres de votre département.";
    figures = byDep.get(me.departement);
  }
  $("tableau").hidden = false;
  if (!figures) {
    say("Aucun chiffre pour ce périmètre.", "info");
    return;
  }
  renderBoxes(figures);
  renderMap(byDep, envelopeByDep);
  barChart(
    $("volets"),
    "volets-graphique",
    "Montants demandés et accordés par volet",
    figures.by_strand.map((s) => ({ label: STRANDS[s.strand] ?? s.strand, requested: s.requested_cents, granted: s.granted_cents })),
  );
  barChart(
    $("categories"),
    "categories-graphique",
    "Montants demandés et accordés par catégorie de candidat",
    figures.by_candidate_kind.map((k) => ({ label: KINDS[k.kind] ?? k.kind, requested: k.requested_cents, granted: k.granted_cents })),
  );
  lineChart($("mois"), figures.series ?? []);
  state.rows = departements.items.map((d) => ({ ...d, waiting: waiting(d), committees_due: due.get(d.departement) ? 1 : d.committees_due }));
  renderTable();
  const scdl = new URLSearchParams(Object.entries(period()).filter(([, v]) => v));
  if (!national) scdl.set("departement", me.departement);
  $("lien-scdl").href = `${API}/open-data/subventions.csv${scdl.size ? `?${scdl}` : ""}`;
  $("periode-active").textContent =
    state.from || state.to ? `Période : du ${state.from || "début"} au ${state.to || "ce jour"}.` : "Toute la période.";
  say("");
}

async function downloadCsv() {
  const path = $("titre").textContent === "Tableau de bord national" ? "/stats/national" : "/stats/departements";
  const response = await api(path, period(), "text/csv");
  if (!response.ok) {
    say("Le téléchargement a échoué.", "error");
    return;
  }
  const url = URL.createObjectURL(await response.blob());
  const link = el("a", { href: url, download: "chiffres-tableau-de-bord.csv" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// R-AUTH-2: back from ProConnect with a one-time code (?code=…, or ?error=…): take it out of
// the address at once, then exchange it for the service's token.
async function redeemProConnectCode() {
  const params = new URLSearchParams(window.location.search);
  const code = params.get("code");
  const error = params.get("error");
  if (!code && !error) return;
  window.history.replaceState(null, "", window.location.pathname);
  if (error || !/^[A-Za-z0-9_-]{43}$/.test(code)) {
    say("La connexion ProConnect n'a pas abouti.", "error");
    return;
  }
  const response = await fetch("/api/v1/auth/token", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ grant_type: "authorization_code", code }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    say(`Connexion refusée : ${body.detail || response.status}`, "error");
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, body.access_token);
}

function showSignedIn(signedIn) {
  $("deconnexion").hidden = !signedIn;
  $("proconnect").hidden = signedIn || document.body.dataset.proconnect !== "on";
  $("jeton-form").hidden = signedIn || document.body.dataset.devToken !== "on";
  if (!signedIn) $("tableau").hidden = true;
}

function start() {
  $("jeton-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("jeton").value.trim();
    $("jeton").value = "";
    if (!value) return;
    sessionStorage.setItem(TOKEN_KEY, value);
    showSignedIn(true);
    load().catch((error) => say(`Erreur : ${error.message}`, "error"));
  });
  $("deconnexion").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showSignedIn(false);
    say("Vous êtes déconnecté.");
  });
  $("periode-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.from = $("du").value;
    state.to = $("au").value;
    load().catch((error) => say(`Erreur : ${error.message}`, "error"));
  });
  $("periode-tout").addEventListener("click", () => {
    $("du").value = "";
    $("au").value = "";
    state.from = "";
    state.to = "";
    load().catch((error) => say(`Erreur : ${error.message}`, "error"));
  });
  $("csv-chiffres").addEventListener("click", () => downloadCsv().catch((error) => say(`Erreur : ${error.message}`, "error")));
  redeemProConnectCode()
    .catch((error) => say(`Erreur : ${error.message}`, "error"))
    .finally(() => {
      const signedIn = Boolean(token());
      showSignedIn(signedIn);
      if (signedIn) load().catch((error) => say(`Erreur : ${error.message}`, "error"));
    });
}

start();
