/** Results: the terminal table, bench/results/<scenario>-<date>.json and a hand-written SVG chart. */
import { cpus, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './servers.js';

export type Value = number | string | boolean | null;

export interface Row {
  /** e.g. "bare", "ours (PostgreSQL)". */
  target: string;
  metrics: Record<string, Value>;
}

export interface TargetCheck {
  name: string;
  goal: string;
  measured: string;
  /** null: not measured (see note). */
  pass: boolean | null;
  note?: string;
}

export interface ScenarioResult {
  scenario: string;
  title: string;
  startedAt: string;
  smoke: boolean;
  /** Set when command-line overrides changed the scenario's scale: kept out of the docs. */
  custom?: boolean;
  machine: { cpus: number; model: string; memoryGiB: number; node: string };
  /** Metric name → unit, in column order. */
  columns: Array<{ key: string; label: string; unit?: string }>;
  rows: Row[];
  ratios: Record<string, number | null>;
  targets: TargetCheck[];
  /** Correctness failures (lost / reordered messages, refused handshakes…): the run FAILS. */
  failures: string[];
  notes: string[];
  /** Panels for the chart: each a metric key drawn as one bar per row. */
  chart: Array<{ key: string; label: string }>;
}

export function machine(): ScenarioResult['machine'] {
  const c = cpus();
  return {
    cpus: c.length,
    model: c[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
}

export function fmt(v: Value, digits = 2): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return '—';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  if (Number.isInteger(v)) return String(v);
  return v.toFixed(digits);
}

export function ratio(a: number | undefined | null, b: number | undefined | null): number | null {
  if (
    a === undefined ||
    a === null ||
    b === undefined ||
    b === null ||
    !Number.isFinite(a) ||
    !Number.isFinite(b) ||
    b === 0
  )
    return null;
  return Math.round((a / b) * 100) / 100;
}

export function table(r: ScenarioResult): string {
  const head = ['target', ...r.columns.map((c) => (c.unit ? `${c.label} (${c.unit})` : c.label))];
  const body = r.rows.map((row) => [
    row.target,
    ...r.columns.map((c) => fmt(row.metrics[c.key] ?? null)),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) =>
    '| ' +
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') +
    ' |';
  const sep =
    '|' +
    widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') +
    '|';
  const out = [line(head), sep, ...body.map(line)];
  if (r.targets.length > 0) {
    out.push('');
    for (const t of r.targets) {
      const mark = t.pass === null ? 'n/a ' : t.pass ? 'PASS' : 'MISS';
      out.push(
        `  [${mark}] ${t.name}: goal ${t.goal}; measured ${t.measured}${t.note ? ` — ${t.note}` : ''}`,
      );
    }
  }
  for (const f of r.failures) out.push(`  FAIL: ${f}`);
  for (const n of r.notes) out.push(`  note: ${n}`);
  return out.join('\n');
}

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const COLORS = ['#8c8c8c', '#2f6fb0', '#e08a1e', '#3a9a5b', '#b0413e', '#7a5cb0'];

/** Small multiples: one panel per chart metric, one horizontal bar per row (same colour per row). */
export function svg(r: ScenarioResult): string {
  const panelW = 330;
  const barH = 18;
  const gap = 6;
  const panelH = 34 + r.rows.length * (barH + gap);
  const cols = Math.min(3, Math.max(1, r.chart.length));
  const rowsN = Math.ceil(r.chart.length / cols);
  const legendH = 22 * Math.ceil(r.rows.length / 3);
  const width = cols * panelW + 20;
  const height = 50 + legendH + rowsN * (panelH + 16) + 10;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  parts.push(
    `<text x="10" y="22" font-size="15" font-weight="bold">${esc(r.title)}${r.smoke ? ' (smoke run, not a measurement)' : ''}</text>`,
  );
  parts.push(
    `<text x="10" y="40" fill="#555">${esc(`${r.startedAt} · ${r.machine.cpus} cores · ${r.machine.model} · node ${r.machine.node}`)}</text>`,
  );
  r.rows.forEach((row, i) => {
    const x = 10 + (i % 3) * 260;
    const y = 52 + Math.floor(i / 3) * 22;
    parts.push(
      `<rect x="${x}" y="${y}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`,
    );
    parts.push(`<text x="${x + 18}" y="${y + 11}">${esc(row.target)}</text>`);
  });
  r.chart.forEach((panel, p) => {
    const ox = 10 + (p % cols) * panelW;
    const oy = 52 + legendH + Math.floor(p / cols) * (panelH + 16);
    const values = r.rows.map((row) => row.metrics[panel.key]);
    const nums = values.map((v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0));
    const max = Math.max(...nums, 1e-9);
    parts.push(`<text x="${ox}" y="${oy + 14}" font-weight="bold">${esc(panel.label)}</text>`);
    const barMax = panelW - 110;
    r.rows.forEach((_row, i) => {
      const y = oy + 24 + i * (barH + gap);
      const w = Math.max(1, (nums[i] / max) * barMax);
      parts.push(
        `<rect x="${ox}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${COLORS[i % COLORS.length]}"/>`,
      );
      parts.push(
        `<text x="${(ox + w + 4).toFixed(1)}" y="${y + 13}">${esc(fmt(values[i] ?? null))}</text>`,
      );
    });
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export function save(r: ScenarioResult): { json: string; svg: string } {
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const date = r.startedAt.slice(0, 10);
  const base = `${r.scenario}${r.smoke ? '-smoke' : ''}${r.custom ? '-custom' : ''}-${date}`;
  const jsonPath = join(dir, `${base}.json`);
  const svgPath = join(dir, `${base}.svg`);
  writeFileSync(jsonPath, JSON.stringify(r, null, 2) + '\n');
  writeFileSync(svgPath, svg(r) + '\n');
  return { json: jsonPath, svg: svgPath };
}

/** One progress line, rewritten in place on a terminal; a line every few seconds otherwise. */
export class Progress {
  private lastPrint = 0;
  private readonly tty = process.stderr.isTTY === true;

  update(text: string): void {
    if (this.tty) {
      process.stderr.write(`\r\x1b[2K${text}`);
    } else if (Date.now() - this.lastPrint > 5000) {
      process.stderr.write(`${text}\n`);
      this.lastPrint = Date.now();
    }
  }

  done(text?: string): void {
    if (this.tty) process.stderr.write('\r\x1b[2K');
    if (text) process.stderr.write(`${text}\n`);
    this.lastPrint = 0;
  }
}
