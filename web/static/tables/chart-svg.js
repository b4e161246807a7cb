// Charts drawn as inline SVG (no library): bar, line, pie and scatter from the figures the daemon
// aggregated ({labels, values} or {points}). Colours are SVG attributes, never inline styles
// (the page's CSP allows no style attributes).

const NS = 'http://www.w3.org/2000/svg';
const W = 520;
const H = 260;
const PAD = { left: 48, right: 12, top: 12, bottom: 48 };
const COLOURS = ['#3867d6', '#20bf6b', '#f7b731', '#eb3b5a', '#8854d0', '#0fb9b1', '#fa8231', '#4b6584'];

function el(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

function label(text, max = 12) {
  const s = String(text);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function niceMax(max) {
  if (max <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(max));
  return Math.ceil(max / step) * step;
}

function axes(svg, yMax, yMin = 0) {
  const plotH = H - PAD.top - PAD.bottom;
  svg.append(el('line', { x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom, stroke: '#999' }),
    el('line', { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom, stroke: '#999' }));
  for (let i = 0; i <= 4; i += 1) {
    const value = yMin + ((yMax - yMin) * i) / 4;
    const y = H - PAD.bottom - (plotH * i) / 4;
    svg.append(el('text', { x: PAD.left - 6, y: y + 4, 'text-anchor': 'end', 'font-size': 10, fill: '#555' },
      String(Math.round(value * 100) / 100)));
  }
}

function bars(svg, labels, values) {
  const max = niceMax(Math.max(0, ...values));
  axes(svg, max);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(1, labels.length);
  labels.forEach((name, i) => {
    const height = (Math.max(0, values[i]) / max) * plotH;
    const x = PAD.left + i * slot + slot * 0.15;
    svg.append(el('rect', { x, y: H - PAD.bottom - height, width: slot * 0.7, height, fill: COLOURS[0],
      'data-label': name, 'data-value': values[i] }, el('title', {}, `${name}: ${values[i]}`)));
    svg.append(el('text', { x: x + slot * 0.35, y: H - PAD.bottom + 14, 'text-anchor': 'middle', 'font-size': 10,
      fill: '#333' }, label(name)));
  });
}

function line(svg, labels, values) {
  const max = niceMax(Math.max(0, ...values));
  axes(svg, max);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const step = labels.length > 1 ? plotW / (labels.length - 1) : 0;
  const points = values.map((v, i) => [PAD.left + (labels.length > 1 ? i * step : plotW / 2),
    H - PAD.bottom - (Math.max(0, v) / max) * plotH]);
  svg.append(el('polyline', { points: points.map((p) => p.join(',')).join(' '), fill: 'none', stroke: COLOURS[0],
    'stroke-width': 2 }));
  points.forEach(([x, y], i) => {
    svg.append(el('circle', { cx: x, cy: y, r: 3, fill: COLOURS[0], 'data-label': labels[i], 'data-value': values[i] },
      el('title', {}, `${labels[i]}: ${values[i]}`)));
    if (labels.length <= 12 || i % Math.ceil(labels.length / 12) === 0) {
      svg.append(el('text', { x, y: H - PAD.bottom + 14, 'text-anchor': 'middle', 'font-size': 10, fill: '#333' },
        label(labels[i], 10)));
    }
  });
}

function pie(svg, labels, values) {
  const total = values.reduce((a, b) => a + Math.max(0, b), 0) || 1;
  const cx = 130;
  const cy = H / 2;
  const r = 100;
  let angle = -Math.PI / 2;
  labels.forEach((name, i) => {
    const share = Math.max(0, values[i]) / total;
    const colour = COLOURS[i % COLOURS.length];
    const title = el('title', {}, `${name}: ${values[i]} (${Math.round(share * 100)}%)`);
    if (share >= 0.9999) {
      svg.append(el('circle', { cx, cy, r, fill: colour, 'data-label': name, 'data-value': values[i] }, title));
    } else if (share > 0) {
      const end = angle + share * 2 * Math.PI;
      const large = share > 0.5 ? 1 : 0;
      const d = `M${cx},${cy} L${cx + r * Math.cos(angle)},${cy + r * Math.sin(angle)} `
        + `A${r},${r} 0 ${large} 1 ${cx + r * Math.cos(end)},${cy + r * Math.sin(end)} Z`;
      svg.append(el('path', { d, fill: colour, stroke: '#fff', 'data-label': name, 'data-value': values[i] }, title));
      angle = end;
    }
    if (i < 12) {
      const y = 24 + i * 18;
      svg.append(el('rect', { x: 260, y: y - 10, width: 12, height: 12, fill: colour }),
        el('text', { x: 278, y, 'font-size': 12, fill: '#333' }, `${label(name, 24)} — ${values[i]}`));
    }
  });
}

function scatter(svg, points) {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const xMin = Math.min(0, ...xs);
  const xMax = niceMax(Math.max(1, ...xs));
  const yMin = Math.min(0, ...ys);
  const yMax = niceMax(Math.max(1, ...ys));
  axes(svg, yMax, yMin);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  for (const [x, y] of points) {
    svg.append(el('circle', { cx: PAD.left + ((x - xMin) / (xMax - xMin || 1)) * plotW,
      cy: H - PAD.bottom - ((y - yMin) / (yMax - yMin || 1)) * plotH, r: 4, fill: COLOURS[3], 'fill-opacity': 0.7,
      'data-label': x, 'data-value': y }, el('title', {}, `${x}, ${y}`)));
  }
  svg.append(el('text', { x: W - PAD.right, y: H - PAD.bottom + 28, 'text-anchor': 'end', 'font-size': 10,
    fill: '#555' }, `0 … ${xMax}`));
}

// An <svg> for one saved chart; `chart.data` is what the daemon computed.
export function drawChart(chart) {
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', class: 'chart',
    'aria-label': `${chart.config.type} chart: ${chart.name}` });
  const data = chart.data;
  if (!data) return svg;
  if (chart.config.type === 'scatter') scatter(svg, data.points || []);
  else if (!data.labels || !data.labels.length) {
    svg.append(el('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', fill: '#777' }, 'No rows to chart yet'));
  } else if (chart.config.type === 'pie') pie(svg, data.labels, data.values);
  else if (chart.config.type === 'line') line(svg, data.labels, data.values);
  else bars(svg, data.labels, data.values);
  return svg;
}
