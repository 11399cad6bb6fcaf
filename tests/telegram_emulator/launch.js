#!/usr/bin/env node
// A local Telegram Bot API for the bot tests: the npm package telegram-test-api
// behind a compatibility layer that makes python-telegram-bot v22 work with it
// and makes it check what real Telegram checks.
//
//   node launch.js [--port N] [--host H]      prints "LISTENING <port>" when ready
//
// Compatibility fixes (gaps of telegram-test-api 4.2.1):
//   * getMe carries is_bot (PTB's User requires it);
//   * dates are seconds, not milliseconds;
//   * sendChatAction, setMyCommands, getMyCommands, deleteMyCommands exist, and
//     answerCallbackQuery / setWebhook return true;
//   * callback queries carry chat_instance (required by PTB);
//   * getUpdates long-polls for `timeout` seconds instead of returning at once
//     (otherwise PTB spins on an empty answer);
//   * webhook deliveries send X-Telegram-Bot-Api-Secret-Token;
//   * user messages get their ids synchronously (no duplicate ids under load)
//     and the client API answers with them;
//   * editMessageText answers with the edited message.
// Checks real Telegram makes: HTML parse_mode must parse (supported tags only,
// balanced, entities escaped) and message text must be 1..4096 UTF-16 units.
// Test hooks: POST /_compat/fail queues failures for a method (e.g. a 429 with
// retry_after, or "can't parse entities"); POST /_compat/calls lists bot calls.
// POST /_compat/outage {kind, seconds, methods?, retry_after?} makes every Bot API
// call (or those of `methods`) fail for a time window, as when Telegram is down:
//   kind "500"  answers 500 Internal Server Error;
//   kind "hang" holds the request and drops the connection when the window ends
//               (the client's read timeout fires first if it is shorter);
//   kind "429"  answers Too Many Requests with retry_after = the seconds left in
//               the window (as Telegram does), or the fixed `retry_after` given.
// A failed call is not carried out: nothing is sent and no update is consumed.
// POST /_compat/outage/clear ends all windows. POST /_compat/botMessages returns
// the bot's messages to every chat not read before (one request for a load test).
'use strict';

const path = require('path');
const http = require('http');
const TelegramServer = require('telegram-test-api');

const fromPkg = (name) => require(require.resolve(name, { paths: [path.dirname(require.resolve('telegram-test-api'))] }));
const express = fromPkg('express');
const axios = fromPkg('axios');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const HOST = opt('host', '127.0.0.1');
const BOT = { id: 666, is_bot: true, first_name: 'newsqa test', username: opt('username', 'TestNameBot'),
  can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false };

const server = new TelegramServer({ host: HOST, port: 1, storeTimeout: 600 });
const calls = [];
const faults = [];
const outages = [];
const OUTAGE_KINDS = ['500', 'hang', '429'];
const commands = {};

// ----------------------------------------------------------------- helpers
function toSeconds(value) {
  if (Array.isArray(value)) return value.map(toSeconds);
  if (value && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = (k === 'date' && typeof v === 'number' && v > 1e11) ? Math.floor(v / 1000) : toSeconds(v);
    }
    return out;
  }
  return value;
}

// The emulator echoes form fields back inside the sent Message; PTB posts
// objects as JSON strings, so turn those back into objects.
function parseJsonFields(result) {
  if (!result || typeof result !== 'object' || Array.isArray(result)) return result;
  const out = { ...result };
  for (const [k, v] of Object.entries(out)) {
    if (typeof v === 'string' && /^[[{]/.test(v) && k !== 'text') {
      try { out[k] = JSON.parse(v); } catch (e) { /* plain text after all */ }
    }
  }
  return out;
}

function utf16Length(s) {
  return s.length; // JS strings are UTF-16 already
}

const TAGS = new Set(['b', 'strong', 'i', 'em', 'u', 'ins', 's', 'strike', 'del', 'span', 'tg-spoiler', 'a',
  'code', 'pre', 'blockquote', 'tg-emoji']);

// Returns [visibleText, error]. Mirrors the Bot API's HTML rules closely enough
// to catch unescaped text and unbalanced tags.
function parseHtml(text) {
  const stack = [];
  let visible = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '<') {
      const m = /^<(\/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:="[^"]*"|='[^']*'|=[^\s>]+)?)*)\s*>/.exec(text.slice(i));
      if (!m) return [null, `Can't parse entities: unexpected character '<' at byte offset ${Buffer.byteLength(text.slice(0, i))}`];
      const [whole, closing, rawName] = m;
      const name = rawName.toLowerCase();
      if (!TAGS.has(name)) return [null, `Can't parse entities: unsupported start tag "${name}" at byte offset ${Buffer.byteLength(text.slice(0, i))}`];
      if (closing) {
        if (stack.pop() !== name) return [null, `Can't parse entities: can't find end tag corresponding to start tag "${name}"`];
      } else {
        stack.push(name);
      }
      i += whole.length;
    } else if (c === '&') {
      const m = /^&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);/.exec(text.slice(i));
      if (!m) return [null, `Can't parse entities: unsupported HTML entity at byte offset ${Buffer.byteLength(text.slice(0, i))}`];
      visible += ' ';
      i += m[0].length;
    } else if (c === '>') {
      return [null, `Can't parse entities: unexpected character '>' at byte offset ${Buffer.byteLength(text.slice(0, i))}`];
    } else {
      visible += c;
      i += 1;
    }
  }
  if (stack.length) return [null, `Can't parse entities: can't find end tag corresponding to start tag "${stack.pop()}"`];
  return [visible, null];
}

function badRequest(res, description, code = 400, parameters) {
  res.status(code).json({ ok: false, error_code: code, description, ...(parameters ? { parameters } : {}) });
}

function failDuringOutage(outage, req, res, now) {
  if (outage.kind === '500') {
    badRequest(res, 'Internal Server Error', 500);
  } else if (outage.kind === '429') {
    const retry = outage.retryAfter || Math.max(1, Math.ceil((outage.until - now) / 1000));
    badRequest(res, `Too Many Requests: retry after ${retry}`, 429, { retry_after: retry });
  } else {
    // Never answered: the connection is dropped when the window ends, unless the
    // client has given up (read timeout) and closed it before.
    const timer = setTimeout(() => req.socket.destroy(), outage.until - now);
    res.on('close', () => clearTimeout(timer));
  }
}

// ----------------------------------------------------------------- emulator patches
const formatUpdate = TelegramServer.formatUpdate;
TelegramServer.formatUpdate = (update) => {
  const out = toSeconds(formatUpdate(update));
  if (out.callback_query) {
    const msg = out.callback_query.message || {};
    out.callback_query.chat_instance = String((msg.chat && msg.chat.id) || out.callback_query.from.id);
  }
  return out;
};

server.addUserUpdate = async function addUserUpdate(update) {
  const webhook = this.webhooks[update.botToken];
  if (!webhook) {
    this.storage.userMessages.push(update);
    return;
  }
  const headers = webhook.secret_token ? { 'X-Telegram-Bot-Api-Secret-Token': webhook.secret_token } : {};
  const resp = await axios({ url: webhook.url, method: 'POST', data: TelegramServer.formatUpdate(update), headers,
    validateStatus: () => true });
  if (resp.status > 204) throw new Error(`webhook answered HTTP ${resp.status}`);
};

function addUser(kind, body) {
  if (!body || !body.botToken) throw new Error('the update needs a botToken');
  const update = { time: Date.now(), botToken: body.botToken, updateId: server.updateId++, messageId: server.messageId,
    isRead: false };
  if (kind === 'callback') {
    update.callbackQuery = body;
    update.callbackId = server.callbackId++;
  } else {
    update.message = body;
    server.messageId++;
  }
  return update;
}

// ----------------------------------------------------------------- front app
const app = express();
app.use(express.json({ limit: '5mb' }));
app.use(express.urlencoded({ extended: true, limit: '5mb' }));

for (const [route, kind, event] of [['/sendMessage', 'message', 'AddedUserMessage'],
  ['/sendCommand', 'message', 'AddedUserCommand'], ['/sendCallback', 'callback', 'AddedUserCallbackQuery']]) {
  app.post(route, async (req, res) => {
    try {
      const update = addUser(kind, req.body);
      await server.addUserUpdate(update);
      server.emit(event);
      res.json({ ok: true, result: { message_id: update.messageId, update_id: update.updateId } });
    } catch (err) {
      res.status(500).json({ ok: false, description: String(err.message || err) });
    }
  });
}

app.post('/_compat/fail', (req, res) => {
  faults.push({ ...req.body, count: Number(req.body.count || 1) });
  res.json({ ok: true });
});
app.post('/_compat/outage', (req, res) => {
  const kind = String(req.body.kind);
  const seconds = Number(req.body.seconds);
  if (!OUTAGE_KINDS.includes(kind)) return badRequest(res, `kind: expected one of ${OUTAGE_KINDS.join(', ')}`);
  if (!(seconds > 0)) return badRequest(res, 'seconds: expected a positive number');
  const methods = req.body.methods ? [].concat(req.body.methods).map(String) : null;
  const since = Date.now();
  const outage = { kind, methods, since, until: since + seconds * 1000,
    retryAfter: req.body.retry_after ? Number(req.body.retry_after) : null, hits: 0 };
  outages.push(outage);
  return res.json({ ok: true, result: { since, until: outage.until } });
});
app.post('/_compat/outage/clear', (req, res) => {
  const now = Date.now();
  for (const o of outages) o.until = Math.min(o.until, now);
  res.json({ ok: true, result: outages.map(({ kind, methods, since, until, hits }) => ({ kind, methods, since, until, hits })) });
});
app.post('/_compat/botMessages', (req, res) => {
  const unread = server.storage.botMessages.filter((u) => u.botToken === req.body.token && !u.isRead);
  unread.forEach((u) => { u.isRead = true; });
  res.json({ ok: true, result: unread });
});
app.post('/_compat/calls', (req, res) => {
  res.json({ ok: true, result: calls.filter((c) => !req.body.method || c.method === req.body.method) });
});
app.post('/_compat/commands', (req, res) => res.json({ ok: true, result: commands[req.body.token] || null }));

// Every Bot API call: record it, apply queued faults, fix dates in the answer.
app.all('/bot:token/:method', (req, res, next) => {
  const { method, token } = req.params;
  const body = { ...req.query, ...req.body };
  const now = Date.now();
  const outage = outages.find((o) => o.since <= now && now < o.until && (!o.methods || o.methods.includes(method)));
  if (method !== 'getUpdates') calls.push({ method, time: now, body, ...(outage ? { outage: outage.kind } : {}) });
  if (outage) {
    outage.hits += 1;
    failDuringOutage(outage, req, res, now);
    return;
  }
  const fault = faults.find((f) => f.method === method && f.count > 0
    && (f.chat_id === undefined || String(f.chat_id) === String(body.chat_id)));
  if (fault) {
    fault.count -= 1;
    badRequest(res, fault.description || 'Bad Request', Number(fault.error_code || 400),
      fault.retry_after ? { retry_after: Number(fault.retry_after) } : undefined);
    return;
  }
  const json = res.json.bind(res);
  res.json = (data) => json(toSeconds(data && data.ok ? { ...data, result: parseJsonFields(data.result) } : data));
  req.body = body;
  req.botToken = token;
  next();
});

const ok = (result) => (req, res) => res.json({ ok: true, result });
app.all('/bot:token/getMe', ok(BOT));
app.all('/bot:token/sendChatAction', ok(true));
app.all('/bot:token/answerCallbackQuery', ok(true));
app.all('/bot:token/deleteMyCommands', ok(true));
app.all('/bot:token/getMyCommands', (req, res) => res.json({ ok: true, result: commands[req.botToken] || [] }));
app.all('/bot:token/setMyCommands', (req, res) => {
  const list = typeof req.body.commands === 'string' ? JSON.parse(req.body.commands) : req.body.commands;
  if (!Array.isArray(list)) return badRequest(res, 'Bad Request: commands must be an array');
  commands[req.botToken] = list;
  return res.json({ ok: true, result: true });
});
app.all('/bot:token/setWebhook', (req, res) => {
  if (!req.body.url) return badRequest(res, 'Bad Request: bad webhook: An HTTPS URL must be provided for webhook');
  server.setWebhook(req.body, req.botToken);
  return res.json({ ok: true, result: true });
});

app.all(['/bot:token/sendMessage', '/bot:token/editMessageText'], (req, res, next) => {
  const text = String(req.body.text || '');
  let visible = text;
  if ((req.body.parse_mode || '').toUpperCase() === 'HTML') {
    const [v, err] = parseHtml(text);
    if (err) return badRequest(res, `Bad Request: ${err}`);
    visible = v;
  }
  if (!visible.trim()) return badRequest(res, 'Bad Request: message text is empty');
  if (utf16Length(visible) > 4096) return badRequest(res, 'Bad Request: message is too long');
  return next();
});

// editMessageText answers with the edited message, as Telegram does (the package answers null).
app.all('/bot:token/editMessageText', (req, res) => {
  server.editMessageText(req.body);
  const stored = server.storage.botMessages.find((u) => String(u.messageId) === String(req.body.message_id)
    && String(u.message.chat_id) === String(req.body.chat_id));
  if (!stored) return badRequest(res, 'Bad Request: message to edit not found');
  const m = stored.message;
  return res.json({ ok: true, result: { ...m, message_id: stored.messageId, date: stored.time, from: BOT,
    chat: { id: Number(m.chat_id), type: 'private' } } });
});

// Long polling: hold getUpdates until something arrives or `timeout` runs out.
app.all('/bot:token/getUpdates', (req, res) => {
  const token = req.botToken;
  const deadline = Date.now() + Math.min(Number(req.body.timeout || 0), 50) * 1000;
  const poll = () => {
    if (server.webhooks[token]) {
      badRequest(res, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first", 409);
      return;
    }
    const pending = server.storage.userMessages.some((u) => u.botToken === token && !u.isRead);
    if (pending || Date.now() >= deadline || res.writableEnded || req.socket.destroyed) {
      res.json({ ok: true, result: server.getUpdates(token) });
      return;
    }
    setTimeout(poll, 20);
  };
  poll();
});

app.use(server.webServer);

// A rejected promise somewhere in the emulator must not take the process down.
process.on('unhandledRejection', (err) => console.error('unhandled rejection:', err));

server.started = true;
const httpServer = http.createServer(app);
httpServer.listen(Number(opt('port', '0')), HOST, () => {
  process.stdout.write(`LISTENING ${httpServer.address().port}\n`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => httpServer.close(() => process.exit(0)));
