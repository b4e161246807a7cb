// Settings: provider keys (masked, with a connection test), default model, personality, budgets,
// API keys and the API-key requirement. A key typed here goes to the daemon and is never kept
// in the page: the inputs are cleared after saving and only the masked form comes back.

import { api } from '../api.js';
import { badge, button, clear, errorBox, explain, field, h, options, run, section, stacked, toast, when } from '../ui.js';
import { dataSection } from './data-settings.js';
import { keysSection } from './settings-keys.js';

function keyState(state) {
  if (!state) return null;
  if (!state.hasKey) return h('p', { class: 'muted', 'data-key-state': true }, 'No key set.');
  const from = { db: 'saved here', env: 'from the environment', oauth: 'OAuth' }[state.apiKeySource] || state.apiKeySource;
  return h('p', { 'data-key-state': true }, badge('ok'), ` Key ${state.maskedKey || 'set'} (${from})`);
}

// "Test" asks the model chosen in the form's Model box (any model string may be typed).
// After a successful Test: make the model answered the default of chat and of tasks (a local
// server without a key has no default of its own, so a first task needs one).
function useByDefault(model, shared) {
  const b = button(`Use ${model} by default`, () => run(b, async () => {
    await api.put('/api/settings/chat', { defaultModel: model });
    await api.put('/api/settings/tasks', { defaultModel: model });
    shared.defaultsChanged?.(model);
    toast(`${model} is now the default model of chat and tasks.`);
  }), { title: 'The model of chat, tasks, schedules and workflow steps that name none' });
  return b;
}

function testButton(runtime, modelInput, slot, missing, shared) {
  const b = button('Test', () => run(b, async () => {
    const model = modelInput.value.trim();
    const reason = missing();
    if (reason) {
      clear(slot, h('p', { class: 'error', 'data-test-result': 'failed' }, `Not connected: ${reason}`));
      return;
    }
    clear(slot, h('span', { class: 'muted' }, `Asking ${model || 'the default model'}…`));
    const result = await api.post('/api/settings/test', { runtime, model: model || undefined });
    const asked = result.model || model || 'the model';
    clear(slot, result.connected ? h('div', {}, h('p', { class: 'notice', 'data-test-result': 'ok' }, `Connected: ${asked} answered.`),
      result.model ? useByDefault(model || result.model, shared) : null)
      : h('p', { class: 'error', 'data-test-result': 'failed' }, `Not connected (${asked}): `,
        explain(result.error || 'no answer')));
  }, slot), { title: 'Send one tiny request to the chosen model' });
  return b;
}

// The Model box of a provider: a list of the models it serves or offers, free text allowed.
// It starts on the default model when that is this provider's, else on its first available one.
function modelInput(name, models) {
  const mine = models.filter((m) => m.provider === name);
  const start = mine.find((m) => m.default) || mine.find((m) => m.available && m.source !== 'builtin')
    || mine.find((m) => m.available);
  const id = `models-${name}`;
  const input = h('input', { type: 'text', list: id, value: start ? start.id : '', maxlength: 200,
    placeholder: 'the provider\'s default', 'data-model-picker': name });
  const list = h('datalist', { id }, mine.map((m) => h('option', { value: m.id },
    `${m.label}${m.source === 'served' ? ' (served)' : ''}${m.available ? '' : ' (not set up)'}`)));
  return [input, list];
}

// After a save the provider may serve other models (a new base URL, a key): list them again.
async function refreshModels(name, input, list) {
  const [fresh, freshList] = modelInput(name, await api.get('/api/chat/models'));
  clear(list, ...freshList.children);
  if (!input.value) input.value = fresh.value;
}

function providerForm({ label, name, runtime, state, inputs, save, hint, models, ready, shared }) {
  const status = h('div', {}, keyState(state));
  const errors = h('div');
  const result = h('div', { 'aria-live': 'polite' });
  const [model, list] = modelInput(name, models);
  const form = h('form', { 'aria-label': `${label} provider`, 'data-provider': name, class: ready ? null : 'unset' },
    h('h3', {}, label), status,
    inputs.map(([text, input, help]) => field(text, input, help)),
    field('Model', model, 'Pick one the provider serves, or type any model id; Test asks it'), list,
    hint ? h('p', { class: 'hint' }, hint) : null, errors,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save'), testButton(runtime, model, result,
      () => (form.classList.contains('unset') ? `no ${label} key is set yet. Type it above and Save, then Test.` : null),
      shared)),
    result);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run(event.submitter, async () => {
      const next = await save();
      if (next) clear(status, keyState(next));
      if (next) form.classList.toggle('unset', !(next.hasKey || next.baseUrl));
      await refreshModels(name, model, list);
      for (const [, input] of inputs) if (input.type === 'password') input.value = '';
      toast(`${label} saved.`);
    }, errors);
  });
  return form;
}

async function providers(shared) {
  const [anthropic, openai, ollama, models] = await Promise.all([api.get('/api/settings'), api.get('/api/settings/openai'),
    api.get('/api/settings/ollama'), api.get('/api/chat/models')]);
  const secret = (placeholder) => h('input', { type: 'password', autocomplete: 'off', placeholder, maxlength: 500 });
  const antKey = secret('sk-ant-…');
  const oaiKey = secret('sk-…');
  const oaiUrl = h('input', { type: 'url', value: openai.baseUrl || '', placeholder: 'https://api.openai.com/v1 (default)' });
  const olUrl = h('input', { type: 'url', value: ollama.baseUrl || '' });
  const olModel = h('input', { type: 'text', value: ollama.defaultModel || '', placeholder: 'llama3' });
  return section('Providers',
    h('p', { class: 'muted' }, 'Keys are stored by the daemon and never shown again in full.'),
    h('div', { class: 'grid' },
      providerForm({ label: 'Anthropic', name: 'anthropic', runtime: 'anthropic-direct', state: anthropic, models, shared,
        ready: anthropic.hasKey,
        inputs: [['API key', antKey]], save: async () => {
          if (!antKey.value.trim()) throw new Error('Type the Anthropic API key first.');
          return api.post('/api/settings', { apiKey: antKey.value.trim() });
        } }),
      providerForm({ label: 'OpenAI or compatible', name: 'openai', runtime: 'openai-direct', state: openai, models, shared,
        ready: openai.hasKey || Boolean(openai.baseUrl),
        inputs: [['API key', oaiKey, 'Leave empty to keep the current key'],
          ['Base URL', oaiUrl, 'For an OpenAI-compatible server; empty for OpenAI itself']],
        save: async () => {
          const body = { baseUrl: oaiUrl.value.trim() || null };
          if (oaiKey.value.trim()) body.apiKey = oaiKey.value.trim();
          return api.post('/api/settings/openai', body);
        } }),
      providerForm({ label: 'Ollama', name: 'ollama', runtime: 'ollama', state: null, models, ready: true, shared,
        inputs: [['Base URL', olUrl], ['Default model', olModel]], hint: 'Ollama needs no key.',
        save: async () => {
          await api.post('/api/settings/ollama', { baseUrl: olUrl.value.trim() || null, defaultModel: olModel.value.trim() });
          return null;
        } })));
}

async function defaults(shared) {
  const [chat, models, personality, tasks] = await Promise.all([api.get('/api/settings/chat'), api.get('/api/chat/models'),
    api.get('/api/v1/stan/personality'), api.get('/api/settings/tasks')]);
  const usable = models.filter((m) => m.available);
  const start = models.find((m) => m.default)?.id || chat.defaultModel;
  const model = h('input', { type: 'text', list: 'settings-models', value: start, maxlength: 200 });
  const taskModel = h('input', { type: 'text', value: tasks.defaultModel || '', maxlength: 200,
    placeholder: 'the provider\'s default' });
  shared.defaultsChanged = (id) => {
    model.value = id;
    taskModel.value = id;
  };
  const list = h('datalist', { id: 'settings-models' }, usable.map((m) => h('option', { value: m.id }, m.label)));
  const tone = h('select', {}, options(['professional', 'friendly', 'concise'].map((p) => [p, p]), personality.personality));
  const errors = h('div');
  const form = h('form', { 'aria-label': 'Defaults' },
    field('Default chat model', model, 'A model of a provider set up above, or any LiteLLM model string'), list,
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

// One timeout for every request that waits for a person: tool calls, workflow checkpoints,
// assistant actions.
async function approvalSettings() {
  const current = await api.get('/api/permissions/settings');
  const minutes = h('input', { type: 'number', min: 0.1, step: 'any', value: String(+(current.requestTimeoutSeconds / 60).toFixed(2)) });
  const errors = h('div');
  const form = h('form', { 'aria-label': 'Approvals' },
    field('Wait for an answer (minutes)', minutes,
      'A tool call, a workflow checkpoint or an action waiting for your answer is denied after this long'),
    errors, h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save approvals')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run(event.submitter, async () => {
      const value = Number(minutes.value);
      if (!(value > 0)) throw new Error('Type a number of minutes above 0.');
      await api.put('/api/permissions/settings', { requestTimeoutSeconds: Math.round(value * 60) });
      toast('Approvals saved.');
    }, errors);
  });
  return section('Approvals', form);
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
  const shared = {}; // what one part tells another (a new default model)
  const parts = [providers, defaults, budgets, approvalSettings, keysSection, security, dataSection].map((load) => {
    const slot = h('div', {}, h('p', { class: 'muted', text: 'Loading…' }));
    page.append(slot);
    return load(shared).then((el) => clear(slot, el)).catch((err) => clear(slot, errorBox(err)));
  });
  await Promise.all(parts);
}

export default { nav: { label: 'Settings', path: '/settings' }, routes: { '/settings': settings } };
