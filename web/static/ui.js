// Small DOM helpers shared by the pages: element builder, formatting, messages, actions.

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'value') el.value = value;
    else if (key === 'checked' || key === 'selected' || key === 'disabled') el[key] = Boolean(value);
    else el.setAttribute(key, value === true ? '' : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// ---- formatting ------------------------------------------------------------------------------

export function when(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export function ago(iso) {
  if (!iso) return '—';
  const seconds = (Date.now() - new Date(iso).getTime()) / 1000;
  const future = seconds < 0;
  const s = Math.abs(seconds);
  const text = s < 60 ? `${Math.round(s)} s` : s < 3600 ? `${Math.round(s / 60)} min`
    : s < 86400 ? `${Math.round(s / 3600)} h` : `${Math.round(s / 86400)} d`;
  return future ? `in ${text}` : `${text} ago`;
}

export function money(usd) {
  if (usd === null || usd === undefined) return '—';
  return usd < 0.01 && usd > 0 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

export function badge(status, label = status) {
  return h('span', { class: `badge badge-${status}`, text: label });
}

// "1 run", "3 runs".
export function plural(n, word, many = `${word}s`) {
  return `${n} ${n === 1 ? word : many}`;
}

// A table that becomes stacked rows on a narrow screen: each cell is labelled with its column
// (data-label, shown by the stylesheet under 600 px).
export function stacked(table) {
  const heads = [...table.querySelectorAll('thead th')].map((th) => th.textContent);
  table.classList.add('stack');
  for (const row of table.querySelectorAll('tbody tr')) {
    [...row.children].forEach((cell, i) => {
      if (heads[i]) cell.dataset.label = heads[i];
      else cell.classList.add('no-label');
    });
  }
  return table;
}

// ---- errors in words ---------------------------------------------------------------------------

// Some daemon messages tell a program what to call (POST /api/…, an environment variable). In
// the page the same fix is a setting: say so, and link to it.
const SETTINGS_FIXES = [
  [/^No LLM provider is configured, so tasks and schedules cannot run/i,
    'No LLM provider is configured, so tasks and schedules cannot run. Add a key in '],
  [/^No LLM provider is configured/i,
    'No LLM provider is configured. Add an Anthropic or OpenAI key, or an Ollama model, in '],
];
const API_CALL = /\b(?:GET|POST|PUT|PATCH|DELETE) \/api\/|\bcurl\b|\bexport [A-Z_]+/;

const ISO_TIME = /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})\b/g;

export function explain(message, err = null) {
  // Times in the browser's zone; a budget refusal without its machine-readable prefix.
  const text = String(message || '').replace(ISO_TIME, (iso) => new Date(iso).toLocaleString())
    .replace(/^budget_exceeded: /, '');
  for (const [pattern, words] of SETTINGS_FIXES) {
    if (pattern.test(text)) return [words, link('/settings', 'Settings'), ', then try again.'];
  }
  const code = err?.body?.code || err?.body?.error?.code;
  if (/budget/i.test(String(code || '')) || (err?.status === 429 && /\bcap\b|budget/i.test(text))
      || /budget reached/i.test(text)) {
    const kept = text.split(/(?<=[.;:])\s+/).filter((part) => !API_CALL.test(part)).join(' ').replace(/[;:]$/, '.');
    return [kept, ' ', 'Change the spending caps in ', link('/settings', 'Settings'), '.'];
  }
  if (API_CALL.test(text)) {
    // Keep the clauses that say what happened; drop the ones that name an API call.
    const kept = text.split(/(?<=[.;:])\s+/).filter((part) => !API_CALL.test(part));
    return [kept.join(' ').replace(/[;:]$/, '.') || 'The daemon refused this.'];
  }
  return [text];
}

// ---- messages --------------------------------------------------------------------------------

export function errorBox(err) {
  return h('p', { class: 'error', role: 'alert' }, explain(err && err.message ? err.message : String(err), err));
}

export function empty(text, ...extra) {
  return h('div', { class: 'empty' }, h('p', { text }), extra);
}

export function toast(text, kind = 'info') {
  const box = document.getElementById('toasts');
  const item = h('div', { class: `toast toast-${kind}`, text });
  box.append(item);
  setTimeout(() => item.remove(), kind === 'error' ? 8000 : 4000);
}

// Runs fn when the button is pressed: the button is disabled meanwhile and a failure is shown
// in words in `errorSlot` (or as a toast), never swallowed.
export async function run(button, fn, errorSlot) {
  if (errorSlot) errorSlot.replaceChildren();
  if (button) button.disabled = true;
  try {
    return await fn();
  } catch (err) {
    if (errorSlot) errorSlot.replaceChildren(errorBox(err));
    else toast(err.message || String(err), 'error');
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

export function button(label, onclick, props = {}) {
  return h('button', { type: 'button', ...props, onclick }, label);
}

// A labelled form control; `control` is an input/select/textarea element.
export function field(label, control, hint) {
  return h('label', { class: 'field' }, h('span', { class: 'label', text: label }), control,
    hint ? h('span', { class: 'hint', text: hint }) : null);
}

export function options(items, selected) {
  return items.map(([value, label]) => h('option', { value, selected: value === selected }, label));
}

export function section(title, ...children) {
  return h('section', { class: 'card' }, h('h2', { text: title }), children);
}

// The hash link of an API deep link (/tasks/<id> -> #/tasks/<id>).
export function link(path, text, props = {}) {
  return h('a', { href: `#${path}`, ...props }, text);
}
