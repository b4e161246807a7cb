// fetch() for the REST API: JSON in, JSON out, and every failure as an ApiError whose message a
// person can read. Same-origin only: the session cookie set by GET / authenticates every call.

export class ApiError extends Error {
  constructor(message, status = 0, body = null) {
    super(message);
    this.status = status;
    this.body = body;
    this.fieldErrors = body && body.error && typeof body.error === 'object' ? body.error.fieldErrors || {} : {};
  }
}

// The daemon's error envelopes: {error: "sentence"}, the Zod flatten {error: {formErrors,
// fieldErrors}}, and Stan's {error, code, details}. Anything else falls back to the status.
export function errorMessage(body, status) {
  const error = body && body.error;
  if (typeof error === 'string' && error) {
    const hint = typeof body.hint === 'string' ? ` ${body.hint}` : '';
    return error + hint;
  }
  if (error && typeof error === 'object') {
    const parts = [...(error.formErrors || [])];
    for (const [field, messages] of Object.entries(error.fieldErrors || {})) {
      parts.push(`${field}: ${messages.join('; ')}`);
    }
    if (parts.length) return parts.join('. ');
  }
  if (body && typeof body.message === 'string') return body.message;
  return status ? `The daemon answered ${status}.` : 'The daemon did not answer.';
}

async function request(method, path, body, { raw = false, signal } = {}) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' }, signal };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError('Cannot reach the stagent daemon. Is it still running?');
  }
  if (raw && response.ok) return response;
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(errorMessage(data, response.status), response.status, data);
  return data;
}

export const api = {
  get: (path, opts) => request('GET', path, undefined, opts),
  post: (path, body = {}, opts) => request('POST', path, body, opts),
  put: (path, body = {}, opts) => request('PUT', path, body, opts),
  patch: (path, body = {}, opts) => request('PATCH', path, body, opts),
  del: (path, body, opts) => request('DELETE', path, body, opts),
  // The raw Response of a successful call (e.g. a POST answered with an SSE stream).
  stream: (path, body, opts = {}) => request('POST', path, body, { ...opts, raw: true }),
};

// Reads an SSE response body (fetch, not EventSource: the chat reply is the answer to a POST)
// and calls onEvent(json) for each `data:` frame.
export async function readEventStream(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, '');
      const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, '')).join('\n');
      if (data) onEvent(JSON.parse(data));
    }
  }
}
