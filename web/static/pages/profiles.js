// Profiles: what an agent is told and allowed. The list (filtered by scope), a form to create a
// user profile (or have the model draft one), and a profile's page: its SKILL.md, its limits,
// its smoke tests with a button to run them, and an edit form when the profile is the user's.

import { api } from '../api.js';
import { markdown } from '../markdown.js';
import { badge, button, clear, empty, errorBox, field, h, link, options, run, section, toast, when } from '../ui.js';

const SCOPES = [['', 'Built-in and yours'], ['builtin', 'Built-in'], ['user', 'Yours']];
const list2text = (items) => (items || []).join(', ');
const text2list = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);

function tags(profile) {
  return (profile.tags || []).map((t) => h('span', { class: 'tag' }, t));
}

function scopeBadge(profile) {
  return badge(profile.scope, profile.scope === 'builtin' ? 'built-in' : profile.readOnly ? `${profile.scope} (read-only)` : 'yours');
}

// The editable part of a profile as form controls; `values()` reads them back as a ProfileConfig.
function profileForm(profile = {}, { withId = true } = {}) {
  const f = {
    id: h('input', { type: 'text', name: 'id', required: true, maxlength: 100, pattern: '[a-z0-9][a-z0-9._\\-]*',
      value: profile.id || '', placeholder: 'e.g. recipe-scout' }),
    name: h('input', { type: 'text', name: 'name', required: true, maxlength: 200, value: profile.name || '' }),
    domain: h('select', { name: 'domain' }, options([['work', 'work'], ['personal', 'personal']], profile.domain || 'work')),
    tags: h('input', { type: 'text', name: 'tags', value: list2text(profile.tags), placeholder: 'cooking, recipe' }),
    allowedTools: h('input', { type: 'text', name: 'allowedTools', value: list2text(profile.allowedTools),
      placeholder: 'Read, Grep, WebSearch (empty: every tool)' }),
    maxTurns: h('input', { type: 'number', name: 'maxTurns', min: 1, max: 1000, value: profile.maxTurns ?? '' }),
    outputFormat: h('input', { type: 'text', name: 'outputFormat', maxlength: 2000, value: profile.outputFormat || '' }),
    skillMd: h('textarea', { name: 'skillMd', rows: 12 }, profile.skillMd || ''),
  };
  const controls = [withId ? field('Id', f.id, 'Lowercase letters, digits and dashes; it cannot change later') : null,
    field('Name', f.name), field('Domain', f.domain), field('Tags', f.tags, 'Comma-separated; they pick the profile for tasks that name none'),
    field('Allowed tools', f.allowedTools), field('Max turns', f.maxTurns), field('Output format', f.outputFormat),
    field('SKILL.md (the instructions)', f.skillMd)];
  const values = (base = {}) => {
    const config = { ...base, name: f.name.value.trim(), domain: f.domain.value, tags: text2list(f.tags.value),
      version: base.version || '1.0.0', skillMd: f.skillMd.value };
    if (withId) config.id = f.id.value.trim();
    const tools = text2list(f.allowedTools.value);
    if (tools.length) config.allowedTools = tools; else delete config.allowedTools;
    if (f.maxTurns.value) config.maxTurns = Number(f.maxTurns.value); else delete config.maxTurns;
    if (f.outputFormat.value.trim()) config.outputFormat = f.outputFormat.value.trim(); else delete config.outputFormat;
    return config;
  };
  const fill = (draft) => {
    for (const key of ['id', 'name', 'outputFormat', 'skillMd']) if (draft[key] != null) f[key].value = draft[key];
    if (draft.domain) f.domain.value = draft.domain;
    if (draft.tags) f.tags.value = list2text(draft.tags);
    if (draft.allowedTools) f.allowedTools.value = list2text(draft.allowedTools);
    if (draft.maxTurns) f.maxTurns.value = draft.maxTurns;
  };
  return { controls, values, fill };
}

async function list(root) {
  const page = h('div');
  root.append(page);
  const scope = h('select', { name: 'scope', 'aria-label': 'Show profiles' }, options(SCOPES, ''));
  const body = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  const load = async () => {
    try {
      const query = scope.value ? `?scope=${scope.value}` : '';
      const profiles = await api.get(`/api/profiles${query}`);
      clear(body, profiles.length ? h('table', {},
        h('thead', {}, h('tr', {}, ['Profile', 'Scope', 'Domain', 'Tags'].map((c) => h('th', { text: c })))),
        h('tbody', {}, profiles.map((p) => h('tr', { 'data-profile': p.id },
          h('td', {}, link(`/profiles/${p.id}`, p.name), h('div', { class: 'muted' }, p.description || '')),
          h('td', {}, scopeBadge(p)), h('td', {}, p.domain), h('td', {}, tags(p))))))
        : empty('No profiles of yours yet. Create one below, or let the model draft one from a goal.'));
    } catch (err) {
      clear(body, errorBox(err));
    }
  };
  scope.addEventListener('change', load);

  const form = profileForm();
  const errors = h('div');
  const create = h('form', { 'aria-label': 'New profile' }, form.controls, errors,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create profile')));
  create.addEventListener('submit', (event) => {
    event.preventDefault();
    run(event.submitter, async () => {
      const config = form.values();
      await api.post('/api/profiles', config);
      toast(`Profile “${config.name}” created.`);
      location.hash = `#/profiles/${config.id}`;
    }, errors);
  });

  const goal = h('input', { type: 'text', name: 'goal', maxlength: 4000, placeholder: 'e.g. plan meals from what is in my pantry' });
  const assistErrors = h('div');
  const reasoning = h('p', { class: 'muted' });
  const assist = h('form', { 'aria-label': 'Draft a profile' }, field('Goal', goal, 'The model drafts the form below; check it, then create'),
    assistErrors, reasoning, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Draft with AI')));
  assist.addEventListener('submit', (event) => {
    event.preventDefault();
    run(event.submitter, async () => {
      const draft = await api.post('/api/profiles/assist', { goal: goal.value.trim() });
      form.fill(draft);
      reasoning.textContent = draft.reasoning || '';
      toast('Draft ready: review it under New profile.');
    }, assistErrors);
  });

  page.append(h('h1', { text: 'Profiles' }),
    h('p', { class: 'muted' }, 'A profile is what an agent is told (its SKILL.md) and allowed (tools, auto-approvals). ' +
      'A task, schedule or workflow step names one; a task that names none gets one picked from its text.'),
    section('All profiles', h('div', { class: 'row' }, scope), body),
    section('Draft a profile with AI', assist), section('New profile', create));
  await load();
}

function testResults(report) {
  if (!report) return empty('Not run yet.');
  return h('div', {}, h('p', {}, `${report.totalPassed} passed, ${report.totalFailed} failed`),
    h('ul', { class: 'plain' }, report.results.map((r) => h('li', { class: 'smoke-result' },
      badge(r.passed ? 'completed' : 'failed', r.passed ? 'passed' : 'failed'), ' ', r.task,
      h('div', { class: 'muted' }, `found: ${list2text(r.foundKeywords) || '—'} · missing: ${list2text(r.missingKeywords) || '—'}`,
        r.error ? ` · ${r.error}` : '')))));
}

async function detail(root, { id }) {
  const page = h('div');
  root.append(page);
  let profile;
  try {
    profile = await api.get(`/api/profiles/${encodeURIComponent(id)}`);
  } catch (err) {
    page.append(h('h1', { text: 'Profile' }), errorBox(err), link('/profiles', 'Back to profiles'));
    return;
  }
  const policy = profile.canUseToolPolicy || {};
  const facts = h('dl', { class: 'facts' },
    h('dt', {}, 'Allowed tools'), h('dd', {}, list2text(profile.allowedTools) || 'every tool'),
    h('dt', {}, 'Auto-approve'), h('dd', {}, list2text(policy.autoApprove) || '—'),
    h('dt', {}, 'Auto-deny'), h('dd', {}, list2text(policy.autoDeny) || '—'),
    h('dt', {}, 'Max turns'), h('dd', {}, String(profile.maxTurns ?? 'default')),
    h('dt', {}, 'Output format'), h('dd', {}, profile.outputFormat || '—'),
    h('dt', {}, 'Runtimes'), h('dd', {}, list2text(profile.supportedRuntimes) || 'any'));

  const results = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
  api.get(`/api/profiles/${encodeURIComponent(id)}/test-results`).then((r) => clear(results, testResults(r)))
    .catch(() => clear(results, testResults(null)));  // 404: never run
  const testErrors = h('div');
  const testButton = button('Run smoke tests', () => run(testButton, async () => {
    clear(results, h('p', { class: 'muted', text: 'Running…' }));
    try {
      clear(results, testResults(await api.post(`/api/profiles/${encodeURIComponent(id)}/test`, {})));
    } catch (err) {
      clear(results, testResults(null));
      throw err;
    }
  }, testErrors), { class: 'primary', disabled: !(profile.tests || []).length });
  const tests = h('ul', { class: 'plain' }, (profile.tests || []).map((t) => h('li', {}, t.task,
    h('span', { class: 'muted' }, ` — expects: ${list2text(t.expectedKeywords)}`))));

  page.append(h('h1', { text: profile.name }), h('p', {}, link('/profiles', '← All profiles')),
    h('p', {}, profile.description || ''),
    h('div', { class: 'row' }, scopeBadge(profile), h('span', { class: 'muted' }, `version ${profile.version} · ${profile.domain}`), tags(profile)),
    section('Instructions (SKILL.md)', markdown((profile.skillMd || '').replace(/^---\n[\s\S]*?\n---[ \t]*\n?/, ''))), section('Limits', facts),
    section('Smoke tests', tests, h('div', { class: 'actions' }, testButton), testErrors, results));

  if (!profile.readOnly) {
    const form = profileForm(profile, { withId: false });
    const errors = h('div');
    const edit = h('form', { 'aria-label': 'Edit profile' }, form.controls, errors,
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save changes')));
    edit.addEventListener('submit', (event) => {
      event.preventDefault();
      run(event.submitter, async () => {
        const { isBuiltin, scope, origin, readOnly, description, ...config } = profile;
        await api.put(`/api/profiles/${encodeURIComponent(id)}`, form.values(config));
        toast('Profile saved.');
        clear(root);
        await detail(root, { id });
      }, errors);
    });
    const deleteErrors = h('div');
    const del = button('Delete profile', () => {
      if (!window.confirm(`Delete the profile “${profile.name}”?`)) return;
      run(del, async () => {
        await api.del(`/api/profiles/${encodeURIComponent(id)}`);
        location.hash = '#/profiles';
      }, deleteErrors);
    }, { class: 'danger' });
    page.append(section('Edit', edit), section('Danger zone', del, deleteErrors));
  } else {
    page.append(h('p', { class: 'muted' }, profile.scope === 'builtin'
      ? 'Built-in profiles cannot be changed; create your own from this one by copying its SKILL.md.'
      : `This ${profile.scope} profile is read from disk and is read-only here.`));
  }
  if (profile.updatedAt) page.append(h('p', { class: 'muted' }, `Updated ${when(profile.updatedAt)}`));
}

export default {
  nav: { label: 'Profiles', path: '/profiles' },
  routes: { '/profiles': list, '/profiles/:id': detail },
};
