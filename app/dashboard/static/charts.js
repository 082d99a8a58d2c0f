// /tableau-de-bord/: the charts, drawn in SVG by script (no inline style: the page's CSP),
// each followed by the table of its figures.
import { el, integer, money, moneyShort, moneyWhole, monthLabel, monthName, nextMonth, svgEl } from "./format.js";

const MAX_MONTHS = 120; // a period longer than ten years is drawn over the data's months only

export function dataTable(caption, headers, rows) {
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

export function barChart(figure, id, title, items) {
  // items: [{label, requested, granted}], two bars each (demandé, accordé), each with its value
  const max = Math.max(1, ...items.flatMap((i) => [i.requested, i.granted]));
  const rowHeight = 44;
  const width = 600;
  const left = 150;
  const room = width - left - 80; // the value is written after the bar
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
    const w1 = (room * item.requested) / max;
    const w2 = (room * item.granted) / max;
    svg.append(svgEl("rect", { class: "barre-demande", x: left, y, width: w1, height: 16 }));
    svg.append(svgEl("text", { class: "valeur", x: left + w1 + 4, y: y + 12 }, moneyShort(item.requested)));
    svg.append(svgEl("rect", { class: "barre-accorde", x: left, y: y + 18, width: w2, height: 16 }));
    svg.append(svgEl("text", { class: "valeur", x: left + w2 + 4, y: y + 30 }, moneyShort(item.granted)));
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

// Every month from the first to the last of the data, the months without a movement at zero,
// stretched to the chosen period's months (`from`, `to`: AAAA-MM-JJ or "") when it is not
// absurdly long: the axis is time, not the list of months that happen to have data.
export function monthSpan(series, from, to) {
  const byMonth = new Map(series.map((m) => [m.month, m]));
  const known = series.map((m) => m.month).sort();
  let first = known[0];
  let last = known[known.length - 1];
  if (from && (!first || from.slice(0, 7) < first)) first = from.slice(0, 7);
  if (to && (!last || to.slice(0, 7) > last)) last = to.slice(0, 7);
  if (!first || !last) return [];
  const months = [];
  for (let month = first; month <= last && months.length <= MAX_MONTHS; month = nextMonth(month)) months.push(month);
  if (months.length > MAX_MONTHS) return from || to ? monthSpan(series, "", "") : series;
  const zero = { submissions: 0, commitments: 0, commitments_cents: 0, payments: 0, payments_cents: 0 };
  return months.map((month) => byMonth.get(month) ?? { ...zero, month });
}

// A round step for about `count` graduations up to `max` (1, 2, 2.5 or 5 × 10^n).
function niceStep(max, count) {
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / magnitude;
  const factor = norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10;
  return factor * magnitude;
}

const LINES = [
  { key: "commitments_cents", className: "ligne-engage", point: "point-engage", label: "Montant engagé (subventions décidées dans le mois)" },
  { key: "payments_cents", className: "ligne-paye", point: "point-paye", label: "Montant payé (paiements du mois)" },
];

export function lineChart(figure, months) {
  const id = "mois-graphique";
  const width = 640;
  const height = 320;
  const left = 92;
  const right = 24;
  const top = 56; // the legend
  const bottom = 64; // the months and the axis's title
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": `${id}-titre ${id}-resume` });
  svg.append(svgEl("title", { id: `${id}-titre` }, "Montants engagés et payés par mois"));
  const summary = months
    .map((m) => `${monthName(m.month)} : engagé ${money(m.commitments_cents)}, payé ${money(m.payments_cents)}`)
    .join(" ; ");
  svg.append(svgEl("desc", { id: `${id}-resume` }, summary || "Aucun engagement ni paiement sur la période."));

  // legend, above the plot
  const legend = svgEl("g", { class: "legende-graphique" });
  LINES.forEach((line, i) => {
    const y = 14 + i * 20;
    legend.append(svgEl("line", { class: line.className, x1: left, y1: y, x2: left + 28, y2: y }));
    legend.append(svgEl("text", { x: left + 36, y: y + 4 }, line.label));
  });
  svg.append(legend);

  // vertical axis: a round scale in euros, graduations and their grid lines
  const max = Math.max(1, ...months.flatMap((m) => LINES.map((line) => m[line.key])));
  const step = niceStep(max, 5);
  const ceiling = Math.ceil(max / step) * step;
  const yOf = (cents) => top + plotHeight - (plotHeight * cents) / ceiling;
  const yAxis = svgEl("g", { class: "axe-y" });
  for (let value = 0; value <= ceiling + step / 2; value += step) {
    const y = yOf(value);
    yAxis.append(svgEl("line", { class: value ? "grille" : "axe", x1: left, y1: y, x2: width - right, y2: y }));
    yAxis.append(svgEl("line", { class: "axe", x1: left - 5, y1: y, x2: left, y2: y }));
    yAxis.append(svgEl("text", { class: "graduation", x: left - 8, y: y + 4, "text-anchor": "end", "data-cents": value }, moneyWhole(value)));
  }
  yAxis.append(svgEl("line", { class: "axe", x1: left, y1: top, x2: left, y2: top + plotHeight }));
  yAxis.append(
    svgEl(
      "text",
      { class: "titre-axe", x: 14, y: top + plotHeight / 2, "text-anchor": "middle", transform: `rotate(-90 14 ${top + plotHeight / 2})` },
      "Montant (euros)",
    ),
  );
  svg.append(yAxis);

  // horizontal axis: one graduation per month, a label every few months when there are many
  const slot = months.length ? plotWidth / months.length : plotWidth;
  const xOf = (i) => left + slot * (i + 0.5);
  const every = Math.max(1, Math.ceil(months.length / 8));
  const xAxis = svgEl("g", { class: "axe-x" });
  months.forEach((m, i) => {
    const x = xOf(i);
    xAxis.append(svgEl("line", { class: "axe", x1: x, y1: top + plotHeight, x2: x, y2: top + plotHeight + 5 }));
    if (i % every === 0) {
      xAxis.append(svgEl("text", { class: "graduation", x, y: top + plotHeight + 20, "text-anchor": "middle", "data-month": m.month }, monthLabel(m.month)));
    }
  });
  xAxis.append(svgEl("text", { class: "titre-axe", x: left + plotWidth / 2, y: height - 12, "text-anchor": "middle" }, "Mois"));
  svg.append(xAxis);

  // the lines, their points, and the engaged amount written above each point when few
  LINES.forEach((line) => {
    const points = months.map((m, i) => [xOf(i), yOf(m[line.key])]);
    if (points.length > 1) svg.append(svgEl("polyline", { class: line.className, points: points.map((p) => p.join(",")).join(" ") }));
    points.forEach(([x, y]) => svg.append(svgEl("circle", { class: line.point, cx: x, cy: y, r: 4 })));
  });
  if (months.length <= 12) {
    months.forEach((m, i) => {
      if (m.commitments_cents) {
        svg.append(svgEl("text", { class: "valeur", x: xOf(i), y: yOf(m.commitments_cents) - 10, "text-anchor": "middle" }, moneyShort(m.commitments_cents)));
      }
    });
  }
  const table = dataTable(
    "Engagements et paiements par mois",
    ["Mois", "Subventions décidées", "Montant engagé", "Paiements", "Montant payé"],
    months.map((m) => [
      monthName(m.month),
      integer.format(m.commitments),
      money(m.commitments_cents),
      integer.format(m.payments),
      money(m.payments_cents),
    ]),
  );
  figure.replaceChildren(svg, el("figcaption", { className: "fr-sr-only", text: "Montants engagés et payés par mois : le tableau suit." }), table);
}
