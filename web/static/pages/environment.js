// Environment: the user's Claude Code and Codex setup. Scan (with the health score), the
// artifacts by category/tool/scope with a search and a viewer, a sync preview (a diff per file,
// conflicts) and its apply, checkpoints with roll back, templates, and suggested profiles.
// Secrets arrive masked from the daemon; every text is set as text, never parsed as HTML.

import { api } from '../api.js';
import { diffBlock } from '../changes.js';
import { ago, badge, button, clear, empty, errorBox, field, h, options, plural, run, section, toast } from '../ui.js';

const CATEGORIES = ['skill', 'plugin', 'hook', 'mcp-server', 'permission', 'instruction', 'memory', 'rule',
  'reference', 'output-style'];
const SYNCABLE = ['mcp-server', 'skill', 'instruction'];
const TOOL_NAMES = { 'claude-code': 'Claude Code', codex: 'Codex' };

function select(name, label, values, first) {
  return h('select', { name, 'aria-label': label }, h('option', { value: '' }, first),
    options(values.map((v) => [v, v]), ''));
}

function healthView(health) {
  const dims = Object.entries(health.dimensions);
  return h('div', { 'data-health': health.overall },
    h('p', {}, h('strong', { text: `Health ${health.overall}/100` }), ' · ',
      dims.map(([name, d]) => `${name} ${d.score}`).join(' · ')),
    health.recommendations.length ? h('ul', {}, health.recommendations.map((r) => h('li', { text: r }))) : null);
}

async function environmentPage(root, params, scope) {
  const errors = h('div');
  const projectDir = h('input', { name: 'projectDir', placeholder: 'the folder stagent was started in', size: 50 });
  const summary = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  const category = select('category', 'Category', CATEGORIES, 'all categories');
  const tool = select('tool', 'Tool', ['claude-code', 'codex', 'shared'], 'all tools');
  const scopeSelect = select('scope', 'Scope', ['user', 'project'], 'all scopes');
  const search = h('input', { type: 'search', name: 'search', 'aria-label': 'Search artifacts', placeholder: 'Search' });
  const artifacts = h('div');
  const viewer = h('div', { 'aria-live': 'polite' });
  const syncBox = h('div', {}, empty('Choose an artifact and "Preview sync" to see what would change.'));
  const checkpoints = h('div');
  const templates = h('div');
  const templateName = h('input', { name: 'templateName', 'aria-label': 'Template name', placeholder: 'Template name' });
  const suggestions = h('div');
  let currentScan = null;

  const scanButton = button('Scan', () => run(scanButton, async () => {
    const body = projectDir.value.trim() ? { projectDir: projectDir.value.trim() } : {};
    const data = await api.post('/api/environment/scan', body);
    toast(`Scan found ${plural(data.summary.totalArtifacts, 'artifact')}.`);
    await loadAll();
  }, errors), { class: 'primary' });
  const checkpointButton = button('Create checkpoint', () => run(checkpointButton, async () => {
    const body = projectDir.value.trim() ? { projectDir: projectDir.value.trim() } : {};
    await api.post('/api/environment/checkpoints', { ...body, label: 'Manual checkpoint' });
    toast('Checkpoint created.');
    await loadCheckpoints();
  }, errors));
  const templateButton = button('Save as template', () => run(templateButton, async () => {
    if (!currentScan) throw new Error('Run a scan first.');
    await api.post('/api/environment/templates', { scanId: currentScan.id, name: templateName.value.trim() });
    templateName.value = '';
    await loadTemplates();
  }, errors));

  root.append(h('h1', { text: 'Environment' }), errors,
    section('Scan', h('div', { class: 'row' }, field('Project folder', projectDir), scanButton), summary),
    section('Artifacts', h('div', { class: 'row' }, category, tool, scopeSelect, search), artifacts, viewer),
    section('Sync', syncBox),
    section('Checkpoints', h('div', { class: 'row' }, checkpointButton), checkpoints),
    section('Templates', h('div', { class: 'row' }, templateName, templateButton), templates),
    section('Suggested profiles', suggestions));

  async function loadScan() {
    const data = await api.get('/api/environment/scan');
    currentScan = data.scan;
    if (!data.scan) {
      clear(summary, empty('No scan yet. Scan reads ~/.claude, ~/.codex and the project folder; nothing is changed.'));
      return;
    }
    const s = data.summary;
    clear(summary,
      h('p', {}, `${plural(data.scan.artifactCount, 'artifact')} · scanned ${ago(data.scan.scannedAt)} · `,
        Object.entries(s.toolCounts).map(([t, n]) => `${TOOL_NAMES[t] || t} ${n}`).join(' · '),
        s.errors ? h('span', { class: 'muted' }, ` · ${plural(s.errors, 'problem')}`) : ''),
      h('p', { class: 'muted' }, Object.entries(s.categoryCounts).map(([c, n]) => `${c} ${n}`).join(' · ')),
      healthView(s.health));
  }

  async function loadArtifacts() {
    const query = new URLSearchParams();
    for (const [key, el] of [['category', category], ['tool', tool], ['scope', scopeSelect], ['search', search]]) {
      if (el.value.trim()) query.set(key, el.value.trim());
    }
    const data = await api.get(`/api/environment/artifacts?${query}`);
    clear(artifacts, data.artifacts.length ? h('table', {},
      h('thead', {}, h('tr', {}, ['Name', 'Category', 'Tool', 'Scope', 'Path', ''].map((c) => h('th', { text: c })))),
      h('tbody', {}, data.artifacts.map(artifactRow)))
      : empty(data.message || 'No artifact matches.'));
  }

  function artifactRow(a) {
    const view = button('View', () => run(view, () => showArtifact(a.id), errors));
    return h('tr', { 'data-artifact': a.id },
      h('td', { text: a.name }), h('td', {}, badge(a.category)), h('td', {}, badge(a.tool)),
      h('td', { text: a.scope }), h('td', {}, h('code', { text: a.relPath })), h('td', {}, view));
  }

  async function showArtifact(id) {
    const { artifact: a } = await api.get(`/api/environment/artifacts/${encodeURIComponent(id)}`);
    const targets = SYNCABLE.includes(a.category)
      ? ['claude-code', 'codex'].filter((t) => t !== a.tool) : [];
    clear(viewer, h('div', { class: 'card', 'data-viewer': a.id },
      h('h3', { text: `${a.name} (${a.category})` }),
      h('p', { class: 'muted' }, `${a.absPath} · ${a.sizeBytes} bytes · sha256 ${a.contentHash.slice(0, 12)}…`),
      h('pre', { text: a.preview || '' }),
      h('div', { class: 'row' }, targets.map((t) => {
        const b = button(`Preview sync to ${TOOL_NAMES[t]}`, () => run(b, () => previewSync(a, t), errors));
        return b;
      }))));
    viewer.scrollIntoView({ block: 'nearest' });
  }

  async function previewSync(a, targetTool) {
    const operation = { artifactId: a.id, operation: 'sync', targetTool };
    const data = await api.post('/api/environment/sync/preview', { operations: [operation] });
    const apply = button('Apply sync', () => run(apply, async () => {
      const operations = data.previews.map((p) => ({ ...operation, targetHash: p.syncOp.targetHash || '' }));
      const result = await api.post('/api/environment/sync', { operations });
      const failed = result.operations.filter((o) => o.status === 'failed');
      if (failed.length) throw new Error(failed.map((o) => o.error).join(' '));
      toast(`Synced ${a.name}; checkpoint taken before writing.`);
      clear(syncBox, empty('Applied. Roll back from Checkpoints if needed.'));
      await Promise.all([loadCheckpoints()]);
    }, errors), { class: 'primary' });
    const s = data.summary;
    clear(syncBox, h('p', {}, `${plural(s.total, 'file')} · +${s.totalAdditions} −${s.totalDeletions}`,
      s.conflicts ? h('span', {}, ' · ', badge('failed', `${plural(s.conflicts, 'conflict')}`)) : ''),
    data.previews.map((p) => h('div', { 'data-preview': p.artifactId },
      h('p', {}, h('code', { text: p.targetPath }), ' ', p.diff.isNew ? badge('ok', 'new file') : '',
        p.hasConflict ? badge('failed', 'conflict: the target holds a different version') : '',
        p.error ? h('span', { class: 'error', text: ` ${p.error}` }) : ''),
      p.diff.identical ? empty('No change.') : diffBlock(p.diff.diff))),
    h('div', { class: 'actions' }, apply));
    syncBox.scrollIntoView({ block: 'nearest' });
  }

  async function loadCheckpoints() {
    const { checkpoints: list } = await api.get('/api/environment/checkpoints');
    clear(checkpoints, list.length ? h('ul', { class: 'plain' }, list.map((c) => {
      const back = button('Roll back', () => run(back, async () => {
        const result = await api.post(`/api/environment/checkpoints/${encodeURIComponent(c.id)}`);
        const backup = result.results.backup || { restored: 0, errors: [] };
        toast(`Rolled back: ${plural(backup.restored, 'file')} restored.`);
        await loadCheckpoints();
      }, errors), { class: 'danger' });
      return h('li', { 'data-checkpoint': c.id }, h('strong', { text: c.label }), ' ', badge(c.checkpointType), ' ',
        badge(c.status === 'active' ? 'ok' : 'cancelled', c.status), ' ',
        h('span', { class: 'muted' }, `${ago(c.createdAt)} · ${plural(c.filesCount, 'file')} copied · `,
          c.gitTag ? `git tag ${c.gitTag}` : `no git tag (${c.gitNote || 'no project'})`), ' ',
        c.status === 'active' ? back : '');
    })) : empty('No checkpoints yet. A sync takes one automatically before writing.'));
  }

  async function loadTemplates() {
    const { templates: list } = await api.get('/api/environment/templates');
    clear(templates, list.length ? h('ul', { class: 'plain' }, list.map((t) => {
      const del = button('Delete', () => run(del, async () => {
        await api.del(`/api/environment/templates/${encodeURIComponent(t.id)}`);
        await loadTemplates();
      }, errors), { class: 'danger' });
      return h('li', { 'data-template': t.id }, h('strong', { text: t.name }), ' ',
        h('span', { class: 'muted' }, `${plural(t.artifactCount, 'artifact')} · ${ago(t.createdAt)}`), ' ', del);
    })) : empty('No templates. A template keeps a scan\'s manifest: names, paths and hashes.'));
  }

  async function loadSuggestions() {
    const data = await api.get('/api/environment/profiles/suggest?tiered=true');
    const item = (s) => {
      const create = button('Create profile', () => run(create, async () => {
        const made = await api.post('/api/environment/profiles/create', { suggestion: s });
        toast(`Profile ${made.profileId} created.`);
        await loadSuggestions();
      }, errors));
      return h('li', { 'data-suggestion': s.ruleId }, h('strong', { text: s.name }), ' ',
        badge(s.tier), ` ${Math.round(s.confidence * 100)}% · `, h('span', { class: 'muted', text: s.description }),
        ' · ', s.matchedArtifacts.map((m) => m.name).join(', '), ' ', create);
    };
    const all = [...data.curated, ...data.discovered];
    clear(suggestions, all.length ? h('ul', { class: 'plain' }, all.map(item))
      : empty('No suggestions: scan first, or install skills and MCP servers.'));
  }

  async function loadAll() {
    try {
      await loadScan();
      await Promise.all([loadArtifacts(), loadCheckpoints(), loadTemplates(), loadSuggestions()]);
    } catch (err) {
      clear(errors, errorBox(err));
    }
  }
  const reloadArtifacts = () => loadArtifacts().catch((err) => clear(errors, errorBox(err)));
  for (const el of [category, tool, scopeSelect]) el.addEventListener('change', reloadArtifacts);
  search.addEventListener('input', scope.coalesce(reloadArtifacts));
  await loadAll();
  if (params.id) await showArtifact(params.id).catch((err) => clear(errors, errorBox(err)));
}

export default {
  nav: { label: 'Environment', path: '/environment' },
  routes: { '/environment': environmentPage, '/environment/artifacts/:id': environmentPage },
};
