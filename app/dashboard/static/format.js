// /tableau-de-bord/: French formats (money, rates, months, dates in words) and DOM helpers.
// Every text the page writes goes through textContent: no markup is ever parsed from data.

const SVG = "http://www.w3.org/2000/svg";
const euros = new Intl.NumberFormat("fr-FR", { style: "currency", currency: "EUR", maximumFractionDigits: 2 });
const wholeEuros = new Intl.NumberFormat("fr-FR", {
  style: "currency",
  currency: "EUR",
  minimumFractionDigits: 0,
  maximumFractionDigits: 0,
});
const compactEuros = new Intl.NumberFormat("fr-FR", {
  style: "currency",
  currency: "EUR",
  notation: "compact",
  minimumFractionDigits: 0,
  maximumFractionDigits: 1,
});
const percent = new Intl.NumberFormat("fr-FR", { minimumFractionDigits: 1, maximumFractionDigits: 2 });
const monthLong = new Intl.DateTimeFormat("fr-FR", { month: "long", year: "numeric", timeZone: "UTC" });
const monthShort = new Intl.DateTimeFormat("fr-FR", { month: "short", year: "numeric", timeZone: "UTC" });
const dayLong = new Intl.DateTimeFormat("fr-FR", { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });

export const integer = new Intl.NumberFormat("fr-FR");
export const money = (cents) => euros.format(cents / 100);
export const moneyWhole = (cents) => wholeEuros.format(cents / 100);
export const moneyShort = (cents) => compactEuros.format(cents / 100);
export const rate = (bps) => (bps === null || bps === undefined ? "—" : `${percent.format(bps / 100)} %`);

const monthDate = (month) => new Date(`${month}-01T00:00:00Z`);
// "mars 2021" (tables, descriptions) and "mars 2021" / "avr. 2021" (a chart's axis)
export const monthName = (month) => monthLong.format(monthDate(month));
export const monthLabel = (month) => monthShort.format(monthDate(month));

// "2021-04-01" → "1er avril 2021", "2026-12-05" → "5 décembre 2026": dates in sentences are
// written in words, never ISO.
export function dateInWords(iso) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(iso)) return iso;
  const text = dayLong.format(new Date(`${iso}T00:00:00Z`));
  return iso.endsWith("-01") ? text.replace(/^1 /, "1er ") : text;
}

// "2021-03" → the next month, "2021-04"
export function nextMonth(month) {
  const [year, number] = month.split("-").map(Number);
  return number === 12 ? `${year + 1}-01` : `${year}-${String(number + 1).padStart(2, "0")}`;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else if (key === "className") node.className = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

export function svgEl(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}
