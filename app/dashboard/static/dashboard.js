// /tableau-de-bord/: reads the public API with the caller's bearer token (an example client).
// GET /auth/me says who: DINUM and ANCT see the national figures and every département; a
// prefect its département.
// The token lives in this tab's sessionStorage only, never in an address.
import { barChart, lineChart, monthSpan } from "./charts.js";
import { dateInWords, el, integer, money, rate } from "./format.js";
import { NAMES, regionOf, renderMap } from "./map.js";

const API = "/api/v1";
const TOKEN_KEY = "guichet.tableau-de-bord.jeton";
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
const SIGNED_OUT = ["Tableau de bord", "Connectez-vous pour afficher les chiffres."];
// Issue 27 §6: a candidate's token reaches no /stats route (GET /stats/national: DINUM and
// ANCT; GET /stats/departements: a prefect, DINUM, ANCT), so the page says so plainly.
const AGENTS_ONLY =
  "Les tableaux de bord sont réservés aux agents de l'État : la DINUM et l'ANCT (vue nationale), " +
  "les préfectures (leur département). Vous êtes connecté avec un compte de candidat, auquel l'API " +
  "n'ouvre aucun de ces chiffres ; vos dossiers se suivent par l'API des dossiers (/api/v1/projects).";

// `session` counts sign-ins and sign-outs: a load started before a sign-out draws nothing.
const state = { from: "", to: "", sort: { key: "departement", ascending: true }, rows: [], national: false, session: 0 };

const $ = (id) => document.getElementById(id);
const depName = (code) => `${NAMES.get(code) ?? code} (${code})`;

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
// [key, label, read, format, hint]: the hint says what a figure counts where it could be
// mistaken for another (issue 27 §6: "Engagé" against the month's commitments).
const BOXES = [
  ["allocated_cents", "Alloué", (f) => f.allocated_cents, money],
  ["committed_cents", "Engagé", (f) => f.committed_cents, money, "net, aujourd'hui : l'accordé moins ce qui a été libéré au solde ou à l'annulation"],
  ["paid_cents", "Payé", (f) => f.paid_cents, money],
  ["available_cents", "Disponible", (f) => f.available_cents, money, "alloué moins engagé"],
  ["use_rate_bps", "Taux d'utilisation", (f) => f.use_rate_bps, rate, "engagé sur alloué"],
  ["waiting", "Dossiers en attente", waiting, (n) => integer.format(n), "déposés ou en instruction"],
  ["committees_due", "Comités dus", (f) => f.committees_due, (n) => integer.format(n)],
  // of the period (the envelope's figures above are its state today)
  ["decisions", "Décisions de la période", (f) => f.decisions, (n) => integer.format(n), "acceptations et refus"],
  ["committees_held", "Comités tenus sur la période", (f) => f.committees_held, (n) => integer.format(n)],
];

function renderBoxes(figures) {
  $("chiffres").replaceChildren(
    ...BOXES.map(([key, label, read, format, hint]) => {
      const value = read(figures);
      const item = el(
        "li",
        { "data-figure": key, "data-value": String(value) },
        el("span", { className: "chiffre__libelle", text: label }),
        el("span", { className: "chiffre__valeur", text: format(value) }),
      );
      if (hint) item.append(el("span", { className: "chiffre__aide", text: hint }));
      return item;
    }),
  );
}

// The monthly table's total against the key figure "Engagé", and why they may differ.
function renderMonthTotals(months, figures) {
  const total = months.reduce((sum, m) => sum + m.commitments_cents, 0);
  const box = $("mois-totaux");
  box.dataset.totalCents = String(total);
  if (total === figures.committed_cents) {
    box.textContent = `Total des mois : ${money(total)}, égal au chiffre clé « Engagé ».`;
  } else if (state.from || state.to) {
    box.textContent =
      `Total des mois de la période : ${money(total)} ; chiffre clé « Engagé » : ${money(figures.committed_cents)}. ` +
      `L'écart, ${money(Math.abs(figures.committed_cents - total))}, vient des subventions décidées hors de la période.`;
  } else {
    box.textContent = `Total des mois : ${money(total)} ; chiffre clé « Engagé » : ${money(figures.committed_cents)}.`;
  }
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

function heading(title, scope) {
  $("titre").textContent = title;
  $("perimetre").textContent = scope;
}

function periodInWords() {
  if (!state.from && !state.to) return "Toute la période.";
  const from = state.from ? `du ${dateInWords(state.from)}` : "depuis le début";
  const to = state.to ? `au ${dateInWords(state.to)}` : "jusqu'à aujourd'hui";
  return `Période : ${from} ${to}.`;
}

async function load() {
  const session = state.session;
  const current = () => session === state.session; // signed out meanwhile: draw nothing
  say("Chargement des chiffres…");
  const meResponse = await api("/auth/me");
  if (!current()) return;
  if (meResponse.status === 401) {
    say("Jeton refusé ou expiré : reconnectez-vous.", "error");
    return;
  }
  const me = await json(meResponse);
  const nationalView = me.role === "dinum" || me.role === "anct";
  if (!nationalView && me.role !== "prefect") {
    heading("Tableau de bord", "Accès réservé aux agents de l'État.");
    $("tableau").hidden = true;
    say(AGENTS_ONLY, "warning");
    return;
  }
  const params = { ...period(), group_by: "month" };
  const [national, departements, committees, envelopes] = await Promise.all([
    nationalView ? api("/stats/national", params).then(json) : Promise.resolve(null),
    api("/stats/departements", params).then(json),
    api("/committees/status").then(json),
    allEnvelopes(),
  ]);
  if (!current()) return;
  const due = new Map(committees.items.map((c) => [c.departement, c.due]));
  const byDep = new Map(departements.items.map((d) => [d.departement, d]));
  const envelopeByDep = new Map(envelopes.map((e) => [e.departement, e]));
  state.national = Boolean(national);
  let figures = national;
  if (national) {
    heading("Tableau de bord national", "Toutes les enveloppes départementales du programme.");
  } else {
    const region = regionOf(me.departement);
    heading(
      `Tableau de bord — Département ${me.departement} (${NAMES.get(me.departement) ?? me.departement})`,
      `Les chiffres de votre département${region ? ` ; la carte montre votre région, ${region.name}` : ""}.`,
    );
    figures = byDep.get(me.departement);
  }
  $("tableau").hidden = false;
  if (!figures) {
    say("Aucun chiffre pour ce périmètre.", "info");
    return;
  }
  renderBoxes(figures);
  renderMap(byDep, envelopeByDep, national ? null : me.departement);
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
  const months = monthSpan(figures.series ?? [], state.from, state.to);
  lineChart($("mois"), months);
  renderMonthTotals(months, figures);
  state.rows = departements.items.map((d) => ({ ...d, waiting: waiting(d), committees_due: due.get(d.departement) ? 1 : d.committees_due }));
  renderTable();
  const scdl = new URLSearchParams(Object.entries(period()).filter(([, v]) => v));
  if (!national) scdl.set("departement", me.departement);
  $("lien-scdl").href = `${API}/open-data/subventions.csv${scdl.size ? `?${scdl}` : ""}`;
  $("periode-active").textContent = periodInWords();
  say("");
}

async function downloadCsv() {
  const path = state.national ? "/stats/national" : "/stats/departements";
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

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  showSignedIn(false);
  say("Vous êtes déconnecté.");
  // the focused button is gone: the focus goes to the way back in, or to the content
  const next = !$("jeton-form").hidden ? $("jeton") : !$("proconnect").hidden ? $("proconnect-login") : $("contenu");
  next.focus();
}

// « Se déconnecter » exists only while someone is signed in (not a `hidden` attribute, which
// DSFR's .fr-btn display rule overrides); the other sign-in controls follow the same rule
// through dashboard.css's [hidden] { display: none !important }.
function showSignedIn(signedIn) {
  state.session += 1;
  const place = $("deconnexion-place");
  if (signedIn && !$("deconnexion")) {
    const button = el("button", { id: "deconnexion", className: "fr-btn fr-btn--secondary fr-mt-2w", type: "button", text: "Se déconnecter" });
    button.addEventListener("click", signOut);
    place.replaceChildren(button);
  } else if (!signedIn) {
    place.replaceChildren();
  }
  $("proconnect").hidden = signedIn || document.body.dataset.proconnect !== "on";
  $("jeton-form").hidden = signedIn || document.body.dataset.devToken !== "on";
  if (!signedIn) {
    $("tableau").hidden = true;
    heading(...SIGNED_OUT);
    state.from = "";
    state.to = "";
    $("du").value = "";
    $("au").value = "";
    showDateInWords();
  }
}

// Under each date field, the chosen day in words (the field itself is drawn by the browser,
// in the browser's language whatever the page's lang="fr").
function showDateInWords() {
  $("du-en-lettres").textContent = $("du").value ? dateInWords($("du").value) : "début du programme";
  $("au-en-lettres").textContent = $("au").value ? dateInWords($("au").value) : "aujourd'hui";
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
  $("du").addEventListener("input", showDateInWords);
  $("au").addEventListener("input", showDateInWords);
  $("periode-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.from = $("du").value;
    state.to = $("au").value;
    load().catch((error) => say(`Erreur : ${error.message}`, "error"));
  });
  $("periode-tout").addEventListener("click", () => {
    $("du").value = "";
    $("au").value = "";
    showDateInWords();
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
