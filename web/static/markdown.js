// A small Markdown renderer for model output (chat replies, task output). It builds DOM nodes,
// never an HTML string: every piece of text becomes a text node, so markup in the source (a
// <script>, an onerror attribute) is shown as the characters it is. The subset: fenced code
// blocks, headings, lists (nested, ordered), block quotes, tables, rules, paragraphs; inline
// code, **strong**, *emphasis*, ~~strike~~, and links, which keep only http(s) addresses.

const FENCE = /^\s{0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$/;
const RULE = /^\s{0,3}([-*_])(?:\s*\1){2,}\s*$/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;
const ITEM = /^(\s*)([-*+]|\d{1,9}[.)])(\s+(.*)|\s*$)/;
const TABLE_RULE = /^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$/;

const INLINE = new RegExp([
  /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/.source,                                  // 1,2 code
  /\[([^\]\n]+)\]\(\s*<?([^()\s<>]+)>?(?:\s+"[^"\n]*")?\s*\)/.source,            // 3,4 link
  /<(https?:\/\/[^\s<>]+)>/.source,                                             // 5 autolink
  /(https?:\/\/[^\s<>]*[^\s<>.,:;"'!?)\]*_])/.source,                          // 6 bare URL
  /\*\*(?=\S)([\s\S]*?\S)\*\*/.source,                                          // 7 strong
  /(?<![\w\\])__(?=\S)([\s\S]*?\S)__(?!\w)/.source,                             // 8 strong
  /~~(?=\S)([\s\S]*?\S)~~/.source,                                              // 9 strike
  /\*(?=[^\s*])([\s\S]*?[^\s*\\])\*/.source,                                    // 10 emphasis
  /(?<![\w\\])_(?=[^\s_])([\s\S]*?[^\s_\\])_(?!\w)/.source,                     // 11 emphasis
  /\\([\\`*_{}[\]()#+\-.!~|>])/.source,                                         // 12 escape
].join('|'), 'g');

function el(tag, children = [], props = {}) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children);
  return node;
}

// An http(s) address as a URL, or null: javascript:, data: and everything else is refused.
export function safeUrl(text) {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

function anchor(href, children) {
  const a = el('a', children);
  a.href = href;
  a.target = '_blank';
  a.rel = 'noopener noreferrer nofollow';
  return a;
}

// Inline text -> nodes (text nodes and a few elements).
export function inline(text) {
  const out = [];
  let last = 0;
  const re = new RegExp(INLINE); // its own lastIndex: the calls nest
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) out.push(...lines(text.slice(last, m.index)));
    last = re.lastIndex;
    if (m[2] !== undefined) out.push(el('code', [m[2].replace(/^ (.*) $/s, '$1')]));
    else if (m[3] !== undefined) {
      const href = safeUrl(m[4]);
      out.push(href ? anchor(href, inline(m[3])) : document.createTextNode(m[0]));
    } else if (m[5] !== undefined || m[6] !== undefined) {
      const raw = m[5] ?? m[6];
      const href = safeUrl(raw);
      out.push(href ? anchor(href, [raw]) : document.createTextNode(raw));
    } else if (m[7] !== undefined || m[8] !== undefined) out.push(el('strong', inline(m[7] ?? m[8])));
    else if (m[9] !== undefined) out.push(el('del', inline(m[9])));
    else if (m[10] !== undefined || m[11] !== undefined) out.push(el('em', inline(m[10] ?? m[11])));
    else if (m[12] !== undefined) out.push(document.createTextNode(m[12]));
  }
  if (last < text.length) out.push(...lines(text.slice(last)));
  return out;
}

// Plain text with its line breaks kept (a single newline inside a paragraph is a <br>).
function lines(text) {
  const parts = text.split('\n');
  const out = [];
  parts.forEach((part, i) => {
    if (i) out.push(document.createElement('br'));
    if (part) out.push(document.createTextNode(part));
  });
  return out;
}

function cells(row) {
  let text = row.trim();
  if (text.startsWith('|')) text = text.slice(1);
  if (text.endsWith('|') && !text.endsWith('\\|')) text = text.slice(0, -1);
  return text.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|'));
}

function table(rows) {
  const head = cells(rows[0]);
  const align = cells(rows[1]).map((c) => (c.startsWith(':') && c.endsWith(':') ? 'center'
    : c.endsWith(':') ? 'right' : ''));
  const tr = (values, tag) => el('tr', head.map((_, i) => {
    const cell = el(tag, inline(values[i] ?? ''));
    if (align[i]) cell.style.textAlign = align[i];
    return cell;
  }));
  const body = rows.slice(2).map((r) => tr(cells(r), 'td'));
  // Wide tables scroll inside their own box, never the page.
  return el('div', [el('table', [el('thead', [tr(head, 'th')]), el('tbody', body)])], { className: 'md-table' });
}

function startsBlock(line, next) {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || ITEM.test(line)
    || (line.includes('|') && next !== undefined && TABLE_RULE.test(next) && next.includes('-'));
}

function list(lines, start) {
  const first = ITEM.exec(lines[start]);
  const indent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const node = el(ordered ? 'ol' : 'ul');
  if (ordered && parseInt(first[2], 10) !== 1) node.start = parseInt(first[2], 10);
  const items = [];
  let i = start;
  let blank = false;
  for (; i < lines.length; i += 1) {
    const line = lines[i];
    const m = ITEM.exec(line);
    if (m && m[1].length <= indent + 1 && /\d/.test(m[2]) === ordered) {
      items.push([m[4] || '']);
      blank = false;
      continue;
    }
    if (!line.trim()) {
      blank = true;
      items[items.length - 1].push('');
      continue;
    }
    const lead = line.match(/^\s*/)[0].length;
    if (lead > indent) {
      items[items.length - 1].push(line.slice(Math.min(lead, indent + 2)));
    } else if (!blank && !startsBlock(line, lines[i + 1])) {
      items[items.length - 1].push(line.trim()); // a lazy continuation of the item's text
    } else {
      break;
    }
    blank = false;
  }
  for (const content of items) {
    while (content.length > 1 && !content[content.length - 1].trim()) content.pop();
    const blocks = render(content.join('\n'));
    // A tight item (no blank line in it) shows its text without a paragraph's margins.
    if (!content.some((l) => !l.trim()) && blocks.firstChild?.tagName === 'P') {
      blocks.firstChild.replaceWith(...blocks.firstChild.childNodes);
    }
    node.append(el('li', [blocks]));
  }
  return [node, i];
}

// Markdown text -> a DocumentFragment.
export function render(source) {
  const lines = String(source ?? '').replace(/\r\n?/g, '\n').replace(/\t/g, '    ').split('\n');
  const out = document.createDocumentFragment();
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i += 1;
      continue;
    }
    let m = FENCE.exec(line);
    if (m) {
      const fence = m[1];
      const body = [];
      i += 1;
      while (i < lines.length && !(lines[i].trim().startsWith(fence[0].repeat(fence.length))
        && !lines[i].trim().replace(new RegExp(`^\\${fence[0]}+`), '').trim())) {
        body.push(lines[i]);
        i += 1;
      }
      i += 1; // the closing fence (or the end while a reply is still streaming)
      const code = el('code', [body.join('\n')]);
      if (m[2]) code.dataset.lang = m[2];
      out.append(el('pre', [code], { className: 'md-code' }));
      continue;
    }
    m = HEADING.exec(line);
    if (m) {
      // Inside a message, "#" is a small heading: h3 and below, so the page keeps its outline.
      out.append(el(`h${Math.min(m[1].length + 2, 6)}`, inline(m[2]), { className: 'md-h' }));
      i += 1;
      continue;
    }
    if (RULE.test(line)) {
      out.append(el('hr'));
      i += 1;
      continue;
    }
    if (QUOTE.test(line)) {
      const body = [];
      while (i < lines.length && lines[i].trim() && (QUOTE.test(lines[i]) || body.length)) {
        const q = QUOTE.exec(lines[i]);
        body.push(q ? q[1] : lines[i]);
        i += 1;
      }
      out.append(el('blockquote', [render(body.join('\n'))]));
      continue;
    }
    if (ITEM.test(line)) {
      const [node, next] = list(lines, i);
      out.append(node);
      i = next;
      continue;
    }
    if (line.includes('|') && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1]) && lines[i + 1].includes('-')) {
      const rows = [line, lines[i + 1]];
      i += 2;
      while (i < lines.length && lines[i].trim() && lines[i].includes('|')) {
        rows.push(lines[i]);
        i += 1;
      }
      out.append(table(rows));
      continue;
    }
    const para = [line.trim()];
    i += 1;
    while (i < lines.length && lines[i].trim() && !startsBlock(lines[i], lines[i + 1])) {
      para.push(lines[i].trim());
      i += 1;
    }
    out.append(el('p', inline(para.join('\n'))));
  }
  return out;
}

// A block element showing `source` as Markdown.
export function markdown(source, props = {}) {
  const box = el('div', [render(source)], { className: 'md' });
  for (const [key, value] of Object.entries(props)) box.setAttribute(key, value === true ? '' : value);
  return box;
}
