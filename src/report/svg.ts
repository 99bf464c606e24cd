// Charts as inline SVG strings: pure functions, no DOM, no network. Small on
// purpose: bars with error bars, lines over CPU counts, and an empirical CDF.

/** One colour per fix, the same in every chart. */
export const FIX_COLORS: Record<string, string> = {
  none: "#8c8c8c",
  ipi: "#e07b00",
  recheck: "#1f6fd1",
  upstream: "#1a9a4b",
  "ipi-skip": "#b0309e",
  "kvm-pv-flush": "#b0309e",
};

export function colorOf(name: string, i = 0): string {
  const fallback = ["#444", "#c0392b", "#16a085", "#8e44ad", "#2c3e50"];
  return FIX_COLORS[name] ?? fallback[i % fallback.length];
}

export function escapeXml(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** A number for an axis or a label: 3 significant digits, k/M suffixes past 10^4. */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return "n/a";
  const a = Math.abs(x);
  if (a >= 1e6) return `${trim((x / 1e6).toPrecision(3))}M`;
  if (a >= 1e4) return `${trim((x / 1e3).toPrecision(3))}k`;
  if (a >= 100) return String(Math.round(x));
  if (a === 0) return "0";
  return trim(x.toPrecision(3));
}

function trim(s: string): string {
  return s.includes(".") && !s.includes("e") ? s.replace(/\.?0+$/, "") : s;
}

interface Scale {
  map: (v: number) => number;
  ticks: number[];
}

/** Linear scale from [0 or min, max] onto [a, b], with round ticks. */
export function linearScale(lo: number, hi: number, a: number, b: number): Scale {
  // Non-finite ends (an empty or broken series) fall back to [0, 1].
  if (!Number.isFinite(lo)) lo = 0;
  if (!Number.isFinite(hi)) hi = 1;
  const min = Math.min(0, lo);
  const max = hi > min ? hi : min + 1;
  const step = niceStep((max - min) / 5);
  const top = Math.ceil(max / step) * step;
  const bottom = Math.floor(min / step) * step;
  const ticks: number[] = [];
  for (let t = bottom; t <= top + step / 2; t += step) ticks.push(Number(t.toPrecision(12)));
  return { map: (v) => a + ((v - bottom) / (top - bottom)) * (b - a), ticks };
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/** Log10 scale over whole decades covering [lo, hi] (both > 0). */
export function logScale(lo: number, hi: number, a: number, b: number): Scale {
  // An empty series gives lo = Infinity: without these guards the ticks never end.
  let l = Math.floor(Math.log10(lo > 0 && Number.isFinite(lo) ? lo : 1));
  let h = Math.ceil(Math.log10(hi > 0 && Number.isFinite(hi) ? hi : 10));
  if (h <= l) h = l + 1;
  if (h - l > MAX_DECADES) l = h - MAX_DECADES;
  const ticks: number[] = [];
  for (let d = l; d <= h; d++) ticks.push(10 ** d);
  return {
    map: (v) => a + ((Math.log10(Math.max(v, 10 ** l)) - l) / (h - l)) * (b - a),
    ticks,
  };
}

/** A log axis spans at most this many decades. */
const MAX_DECADES = 30;

/** The plot area's note when a chart has nothing to draw. */
function noData(w: number, h: number): string {
  return `<text x="${w / 2}" y="${h / 2}" text-anchor="middle" fill="#888" font-size="14">no data</text>`;
}

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

function frame(w: number, h: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="${escapeXml(title)}" ${FONT} font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${w}" height="${h}" fill="#fff"/>`,
    `<text x="${w / 2}" y="20" text-anchor="middle" font-size="14" font-weight="600" fill="#222">${escapeXml(title)}</text>`,
    ...body,
    "</svg>",
  ].join("\n");
}

export interface Bar {
  label: string;
  value: number;
  /** relative margin of error in percent: drawn as an error bar */
  rme?: number | null;
  color?: string;
  /** text under the label, e.g. "0.93x none" */
  note?: string;
}

/** Vertical bars with 95% error bars, value labels on top. */
export function barChart(opts: {
  title: string;
  yLabel: string;
  bars: Bar[];
  width?: number;
  height?: number;
}): string {
  const w = opts.width ?? 560;
  const h = opts.height ?? 320;
  const m = { l: 70, r: 20, t: 36, b: 62 };
  const bars = opts.bars.filter((b) => Number.isFinite(b.value));
  if (bars.length === 0) return frame(w, h, opts.title, [noData(w, h)]);
  const top = Math.max(1e-9, ...bars.map((b) => b.value * (1 + Math.abs(b.rme ?? 0) / 100)));
  const y = linearScale(0, top, h - m.b, m.t);
  const body: string[] = [axisY(y, m.l, w - m.r, opts.yLabel, h, m)];
  const slot = (w - m.l - m.r) / Math.max(1, bars.length);
  const bw = Math.min(70, slot * 0.6);
  bars.forEach((b, i) => {
    const cx = m.l + slot * (i + 0.5);
    const y0 = y.map(0);
    const y1 = y.map(b.value);
    const color = b.color ?? colorOf(b.label, i);
    body.push(
      `<rect x="${f(cx - bw / 2)}" y="${f(y1)}" width="${f(bw)}" height="${f(Math.max(0, y0 - y1))}" fill="${color}" rx="2"/>`,
    );
    if (b.rme !== null && b.rme !== undefined && Number.isFinite(b.rme)) {
      const d = (b.value * Math.abs(b.rme)) / 100;
      const ya = y.map(b.value + d);
      const yb = y.map(Math.max(0, b.value - d));
      body.push(
        `<path d="M${f(cx)} ${f(ya)}V${f(yb)}M${f(cx - 7)} ${f(ya)}H${f(cx + 7)}M${f(cx - 7)} ${f(yb)}H${f(cx + 7)}" stroke="#222" stroke-width="1.3" fill="none"/>`,
      );
    }
    const labelY = Math.min(y1, y.map(b.value * (1 + Math.abs(b.rme ?? 0) / 100))) - 5;
    body.push(
      `<text x="${f(cx)}" y="${f(labelY)}" text-anchor="middle" fill="#222">${escapeXml(formatNumber(b.value))}</text>`,
      `<text x="${f(cx)}" y="${f(h - m.b + 18)}" text-anchor="middle" fill="#222" font-weight="600">${escapeXml(b.label)}</text>`,
    );
    if (b.note)
      body.push(
        `<text x="${f(cx)}" y="${f(h - m.b + 34)}" text-anchor="middle" fill="#555" font-size="11">${escapeXml(b.note)}</text>`,
      );
  });
  return frame(w, h, opts.title, body);
}

export interface Series {
  name: string;
  points: { x: number; y: number; rme?: number | null }[];
  color?: string;
  dashed?: boolean;
}

/** Lines over a small set of x values (CPU counts), log or linear y, with error bars. */
export function lineChart(opts: {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  logY?: boolean;
  /** x values drawn with a shaded background (e.g. oversubscribed CPU counts) */
  shadeFromX?: number;
  shadeLabel?: string;
  /** x drawn to scale from 0 (a probability), not spread evenly (CPU counts) */
  linearX?: boolean;
  width?: number;
  height?: number;
}): string {
  const w = opts.width ?? 620;
  const h = opts.height ?? 360;
  const m = { l: 70, r: 130, t: 36, b: 48 };
  const pts = opts.series
    .flatMap((s) => s.points)
    .filter((p) => Number.isFinite(p.y) && (!opts.logY || p.y > 0));
  if (pts.length === 0) return frame(w, h, opts.title, [noData(w, h)]);
  const xs = [...new Set(pts.map((p) => p.x))].sort((a, b) => a - b);
  const ys = pts.map((p) => p.y);
  const y = opts.logY
    ? logScale(Math.min(...ys, Number.POSITIVE_INFINITY), Math.max(...ys, 0), h - m.b, m.t)
    : // all zeros (no race at any point): an axis up to 1, not up to 1e-9
      linearScale(0, Math.max(...ys) > 0 ? Math.max(...ys) : 1, h - m.b, m.t);
  // CPU counts are few and uneven: spread them evenly, labelled. A linear x
  // runs from 0 to the largest value, with a margin at each end.
  const span =
    Math.max(...xs, 0) > Math.min(...xs, 0) ? Math.max(...xs, 0) - Math.min(...xs, 0) : 1;
  const x0 = Math.min(...xs, 0);
  const pad = 0.06 * (w - m.l - m.r);
  const xAt = opts.linearX
    ? (x: number) => m.l + pad + ((x - x0) / span) * (w - m.l - m.r - 2 * pad)
    : (x: number) => m.l + ((xs.indexOf(x) + 0.5) / Math.max(1, xs.length)) * (w - m.l - m.r);
  const body: string[] = [];
  if (opts.shadeFromX !== undefined) {
    const first = xs.findIndex((x) => x >= (opts.shadeFromX as number));
    if (first >= 0) {
      const x0 = m.l + (first / xs.length) * (w - m.l - m.r);
      body.push(
        `<rect x="${f(x0)}" y="${m.t}" width="${f(w - m.r - x0)}" height="${h - m.b - m.t}" fill="#f3efe6"/>`,
        `<text x="${f(x0 + 4)}" y="${m.t + 12}" fill="#8a7a55" font-size="11">${escapeXml(opts.shadeLabel ?? "")}</text>`,
      );
    }
  }
  body.push(axisY(y, m.l, w - m.r, opts.yLabel, h, m, opts.logY));
  for (const x of xs) {
    body.push(
      `<text x="${f(xAt(x))}" y="${h - m.b + 16}" text-anchor="middle" fill="#222">${escapeXml(formatNumber(x))}</text>`,
    );
  }
  body.push(
    `<text x="${f((m.l + w - m.r) / 2)}" y="${h - 10}" text-anchor="middle" fill="#444">${escapeXml(opts.xLabel)}</text>`,
  );
  opts.series.forEach((s, i) => {
    const color = s.color ?? colorOf(s.name, i);
    const ok = s.points.filter(
      (p) => Number.isFinite(p.y) && (!opts.logY || p.y > 0) && xs.includes(p.x),
    );
    if (ok.length === 0) return;
    const d = ok.map((p, k) => `${k === 0 ? "M" : "L"}${f(xAt(p.x))} ${f(y.map(p.y))}`).join("");
    body.push(
      `<path d="${d}" stroke="${color}" stroke-width="2.2" fill="none"${s.dashed ? ' stroke-dasharray="6 4"' : ""}/>`,
    );
    for (const p of ok) {
      const cx = xAt(p.x);
      if (p.rme !== null && p.rme !== undefined && Number.isFinite(p.rme)) {
        const dv = (p.y * Math.abs(p.rme)) / 100;
        const lo = Math.max(p.y - dv, opts.logY ? p.y / 10 : 0);
        body.push(
          // Clipped to the plot: a huge margin should not run over the title.
          `<path d="M${f(cx)} ${f(Math.max(m.t, y.map(p.y + dv)))}V${f(Math.min(h - m.b, y.map(lo)))}" stroke="${color}" stroke-width="1.2" opacity="0.7"/>`,
        );
      }
      body.push(`<circle cx="${f(cx)}" cy="${f(y.map(p.y))}" r="3.5" fill="${color}"/>`);
    }
    const ly = m.t + 14 + i * 18;
    body.push(
      `<path d="M${w - m.r + 12} ${ly - 4}h22" stroke="${color}" stroke-width="2.2"${s.dashed ? ' stroke-dasharray="6 4"' : ""}/>`,
      `<text x="${w - m.r + 40}" y="${ly}" fill="#222">${escapeXml(s.name)}</text>`,
    );
  });
  return frame(w, h, opts.title, body);
}

/** Empirical CDF of times, log x; censored trials keep the curve below 1. */
export function ecdfChart(opts: {
  title: string;
  xLabel: string;
  series: { name: string; values: number[]; total: number; color?: string }[];
  width?: number;
  height?: number;
}): string {
  const w = opts.width ?? 620;
  const h = opts.height ?? 340;
  const m = { l: 60, r: 200, t: 36, b: 48 };
  const all = opts.series.flatMap((s) => s.values).filter((v) => v > 0 && Number.isFinite(v));
  const x = logScale(Math.min(...all, 1), Math.max(...all, 10), m.l, w - m.r);
  const y = linearScale(0, 1, h - m.b, m.t);
  const body: string[] = [axisY(y, m.l, w - m.r, "fraction of trials with a race", h, m)];
  if (all.length === 0) body.push(noData(w, h));
  for (const t of x.ticks) {
    body.push(
      `<path d="M${f(x.map(t))} ${m.t}V${h - m.b}" stroke="#eee"/>`,
      `<text x="${f(x.map(t))}" y="${h - m.b + 16}" text-anchor="middle" fill="#222">${escapeXml(formatNumber(t))}</text>`,
    );
  }
  body.push(
    `<text x="${f((m.l + w - m.r) / 2)}" y="${h - 10}" text-anchor="middle" fill="#444">${escapeXml(opts.xLabel)}</text>`,
  );
  opts.series.forEach((s, i) => {
    const color = s.color ?? colorOf(s.name, i);
    const v = s.values.filter((t) => t > 0 && Number.isFinite(t)).sort((a, b) => a - b);
    if (v.length === 0 || s.total === 0) return;
    let d = `M${f(x.map(v[0]))} ${f(y.map(0))}`;
    v.forEach((t, k) => {
      d += `H${f(x.map(t))}V${f(y.map((k + 1) / s.total))}`;
    });
    d += `H${f(w - m.r)}`;
    body.push(`<path d="${d}" stroke="${color}" stroke-width="2.2" fill="none"/>`);
    for (const [k, t] of v.entries()) {
      body.push(
        `<circle cx="${f(x.map(t))}" cy="${f(y.map((k + 1) / s.total))}" r="2.5" fill="${color}"/>`,
      );
    }
    const ly = m.t + 14 + i * 18;
    body.push(
      `<path d="M${w - m.r + 12} ${ly - 4}h22" stroke="${color}" stroke-width="2.2"/>`,
      `<text x="${w - m.r + 40}" y="${ly}" fill="#222">${escapeXml(`${s.name} (${v.length}/${s.total})`)}</text>`,
    );
  });
  return frame(w, h, opts.title, body);
}

function axisY(
  y: Scale,
  x0: number,
  x1: number,
  label: string,
  h: number,
  m: { l: number; t: number; b: number },
  log = false,
): string {
  const out: string[] = [];
  for (const t of y.ticks) {
    const yy = y.map(t);
    out.push(
      `<path d="M${f(x0)} ${f(yy)}H${f(x1)}" stroke="${t === 0 ? "#999" : "#eee"}"/>`,
      `<text x="${f(x0 - 6)}" y="${f(yy + 4)}" text-anchor="end" fill="#222">${escapeXml(formatNumber(t))}</text>`,
    );
  }
  const cy = (m.t + h - m.b) / 2;
  out.push(
    `<text x="14" y="${f(cy)}" transform="rotate(-90 14 ${f(cy)})" text-anchor="middle" fill="#444">${escapeXml(label + (log ? " (log)" : ""))}</text>`,
  );
  return out.join("\n");
}

function f(v: number): string {
  return Number.isFinite(v) ? String(Math.round(v * 10) / 10) : "0";
}
