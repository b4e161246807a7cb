// Settings: provider keys (masked, with a connection test), default model, personality, budgets,
// API keys and the API-key requirement. A key typed here goes to the daemon and is never kept
// in the page: the inputs are cleared after saving and only the masked form comes back.

import { api } from '../api.js';
import { badge, button, clear, errorBox, field, h, options, run, section, stacked, toast, when } from '../ui.js';
import { dataSection } from './data-settings.js';
import { keysSection } from './settings-keys.js';

function keyState(state) {
  if (!state) return null;
  if (!state.hasKey) return h('p', { class: 'muted', 'data-key-state': true }, 'No key set.');
  const from = { db: 'saved here', env: 'from the environment', oauth: 'OAuth' }[state.apiKeySource] || state.apiKeySource;
  return h('p', { 'data-key-state': true }, badge('ok'), ` Key ${state.maskedKey || 'set'} (${from})`);
}

function testButton(runtime, slot) {
  const b = button('Test', () => run(b, async () => {
    clear(slot, h('span', { class: 'muted' }, 'Asking the model…'));
    const result = await api.post('/api/settings/test', { runtime });
    clear(slot, result.connected ? h('p', { class: 'notice', 'data-test-result': 'ok' }, 'Connected: the model answered.')
      : h('p', { class: 'error', 'data-test-result': 'failed' }, `Not connected: ${result.error || 'no answer'}`));
  }, slot), { title: 'Send one tiny request to the model' });
  return b;
}

function providerForm({ label, name, runtime, state, inputs, save, hint }) {
  const status = h('div', {}, keyState(state));
  const errors = h('div');
  const result = h('div', { 'aria-live': 'polite' });
  const form = h('form', { 'aria-label': `${label} provider`, 'data-provider': name }, h('h3', {}, label), status,
    inputs.map(([text, input, help]) => field(text, input, help)), hint ? h('p', { class: 'hint' }, hint) : null, errors,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save'), testButton(runtime, result)),
    result);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run(event.submitter, async () => {
      const next = await save();
      if (next) clear(status, keyState(next));
      for (const [, input] of inputs) if (input.type === 'password') input.value = '';
      toast(`${label} saved.`);
    }, errors);
  });
  return form;
}

async function providers() {
  const [anthropic, openai, ollama] = await Promise.all([api.get('/api/settings'), api.get('/api/settings/openai'),
    api.get('/api/settings/ollama')]);
  const secret = (placeholder) => h('input', { type: 'password', autocomplete: 'off', placeholder, maxlength: 500 });
  const antKey = secret('sk-ant-…');
  const oaiKey = secret('sk-…');
  const oaiUrl = h('input', { type: 'url', value: openai.baseUrl || '', placeholder: 'https://api.openai.com/v1 (default)' });
  const olUrl = h('input', { type: 'url', value: ollama.baseUrl || '' });
  const olModel = h('input', { type: 'text', value: ollama.defaultModel || '', placeholder: 'llama3' });
  return section('Providers',
    h('p', { class: 'muted' }, 'Keys are stored by the daemon and never shown again in full.'),
    h('div', { class: 'grid' },
      providerForm({ label: 'Anthropic', name: 'anthropic', runtime: 'anthropic-direct', state: anthropic,
        inputs: [['API key', antKey]], save: async () => {
          if (!antKey.value.trim()) throw new Error('Type the Anthropic API key first.');
          return api.post('/api/settings', { apiKey: antKey.value.trim() });
        } }),
      providerForm({ label: 'OpenAI or compatible', name: 'openai', runtime: 'openai-direct', state: openai,
        inputs: [['API key', oaiKey, 'Leave empty to keep the current key'],
          ['Base URL', oaiUrl, 'For an OpenAI-compatible server; empty for OpenAI itself']],
        save: async () => {
          const body = { baseUrl: oaiUrl.value.trim() || null };
          if (oaiKey.value.trim()) body.apiKey = oaiKey.value.trim();
          return api.post('/api/settings/openai', body);
        } }),
      providerForm({ label: 'Ollama', name: 'ollama', runtime: 'ollama', state: null,
        inputs: [['Base URL', olUrl], ['Default model', olModel]], hint: 'Ollama needs no key.',
        save: async () => {
          await api.post('/api/settings/ollama', { baseUrl: olUrl.value.trim() || null, defaultModel: olModel.value.trim() });
          return null;
        } })));
}

async function defaults() {
  const [chat, models, personality, tasks] = await Promise.all([api.get('/api/settings/chat'), api.get('/api/chat/models'),
    api.get('/api/v1/stan/personality'), api.get('/api/settings/tasks')]);
  const model = h('input', { type: 'text', list: 'settings-models', value: chat.defaultModel, maxlength: 200 });
  const taskModel = h('input', { type: 'text', value: tasks.defaultModel || '', maxlength: 200,
    placeholder: 'the provider\'s default' });
  const list = h('datalist', { id: 'settings-models' }, models.map((m) => h('option', { value: m.id }, m.label)));
  const tone = h('select', {}, options(['professional', 'friendly', 'concise'].map((p) => [p, p]), personality.personality));
  const errors = h('div');
  const form = h('form', { 'aria-label': 'Defaults' },
    field('Default chat model', model, 'A built-in id (haiku, gpt-5.4-mini, …) or any LiteLLM model string'), list,
    field('Default model for tasks', taskModel, 'Tasks, schedules and workflow steps without a model of their own use it (a LiteLLM model string, e.g. openai/gpt-4o-mini)'),
    field('Personality', tone, 'The tone of Stan and of new chat conversations'), errors,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save defaults')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run(event.submitter, async () => {
      await api.put('/api/settings/chat', { defaultModel: model.value.trim() });
      await api.put('/api/settings/tasks', { defaultModel: taskModel.value.trim() });
      await api.put('/api/v1/stan/personality', { personality: tone.value });
      toast('Defaults saved.');
    }, errors);
  });
  return section('Model and personality', form);
}

function usd(value) {
  return value === null || value === undefined ? '' : String(value);
}

async function budgets() {
  const snapshot = await api.get('/api/settings/budgets');
  const overall = snapshot.policy.overall || {};
  const monthly = h('input', { type: 'number', min: 0, step: 'any', value: usd(overall.monthlySpendCapUsd), placeholder: 'no cap' });
  const daily = h('input', { type: 'number', min: 0, step: 'any', value: usd(overall.dailySpendCapUsd), placeholder: 'monthly ÷ days' });
  const threshold = h('input', { type: 'number', min: 1, max: 100, value: Math.round(snapshot.alertThreshold * 100) });
  const statuses = h('div');
  const show = (snap) => clear(statuses, stacked(h('table', {}, h('thead', {}, h('tr', {},
    ['Scope', 'Window', 'Spent', 'Cap', 'Health', 'Resets'].map((c) => h('th', { text: c })))),
  h('tbody', {}, snap.statuses.filter((s) => s.scopeId === 'overall' || s.limitValue !== null).map((s) => h('tr', {},
    h('td', {}, s.scopeLabel), h('td', {}, s.window), h('td', {}, `$${(s.currentValue / 1e6).toFixed(4)}`),
    h('td', {}, s.limitValue === null ? '—' : `$${(s.limitValue / 1e6).toFixed(2)}`), h('td', {}, badge(s.health)),
    h('td', { class: 'muted' }, when(s.resetAtIso))))))));
  show(snapshot);
  const errors = h('div');
  const form = h('form', { 'aria-label': 'Budgets' }, h('div', { class: 'row' },
    field('Monthly cap (USD)', monthly), field('Daily cap (USD)', daily), field('Warn at (% of a cap)', threshold)),
  errors, h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save budgets')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run(event.submitter, async () => {
      show(await api.post('/api/settings/budgets', {
        overall: { monthlySpendCapUsd: monthly.value.trim(), dailySpendCapUsd: daily.value.trim() },
        alertThreshold: Number(threshold.value) || null }));
      toast('Budgets saved.');
    }, errors);
  });
  return section('Budgets', h('p', { class: 'muted' }, 'A model call that would cross a cap is not made. Empty means no cap.'),
    form, statuses);
}

async function security() {
  const current = await api.get('/api/settings/security');
  const box = h('input', { type: 'checkbox', checked: current.requireApiKey });
  const errors = h('div');
  box.addEventListener('change', () => run(box, async () => {
    await api.put('/api/settings/security', { requireApiKey: box.checked });
    toast(box.checked ? 'Every API call now needs a key (this browser keeps working).' : 'Local API calls need no key.');
  }, errors));
  return section('Security', h('label', { class: 'inline' }, box, 'Require an API key for every API request'),
    h('p', { class: 'hint' }, 'This page uses its own session cookie, so it keeps working either way.'), errors);
}

async function settings(root) {
  const page = h('div');
  root.append(page);
  page.append(h('h1', { text: 'Settings' }));
  // Each part loads on its own: a failing one shows its error and the rest still work.
  const parts = [providers, defaults, budgets, keysSection, security, dataSection].map((load) => {
    const slot = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
    page.append(slot);
    return load().then((el) => clear(slot, el)).catch((err) => clear(slot, errorBox(err)));
  });
  await Promise.all(parts);
}

export default { nav: { label: 'Settings', path: '/settings' }, routes: { '/settings': settings } };
