// The chat page: register, log in, post and read messages, live updates.
// Every text from the server goes into the page with textContent: no HTML is
// ever built from data. Each action's request ID (the X-Request-ID edge
// answers with) is listed with a link to that request in Wakeline.

const wakeline = document.querySelector('meta[name="wakeline-url"]').content;
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem('token');
let me = sessionStorage.getItem('me');

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'class') node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

// One fetch through edge; records the request in "Your requests".
async function call(label, method, path, { body, headers = {} } = {}) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    note(label, 'network error', null, false);
    throw error;
  }
  const data = await response.json().catch(() => null);
  note(label, response.status, response.headers.get('x-request-id'), response.ok);
  if (!response.ok) {
    const detail = data && (data.detail || data.error);
    throw new Error(`${label}: ${response.status}${detail ? ` ${detail}` : ''}`);
  }
  return data;
}

function note(label, status, requestId, ok) {
  const item = el('li', {}, el('span', { class: `status ${ok ? 'ok' : 'bad'}` }, status), `${label} `);
  if (requestId) {
    item.append(el('a', { href: `${wakeline}/requests/${encodeURIComponent(requestId)}`, target: '_blank', rel: 'noopener' }, requestId));
  }
  $('log').prepend(item);
  while ($('log').children.length > 30) $('log').lastChild.remove();
}

function showMessage({ message, author }) {
  const time = new Date(message.ts).toLocaleTimeString();
  const item = el('li', {}, el('span', { class: 'author' }, author ?? '?'), message.text, el('span', { class: 'time' }, time));
  const list = $('messages');
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(item);
  if (atBottom) list.scrollTop = list.scrollHeight;
}

async function loadMessages(slow = false) {
  const data = await call(slow ? 'slow search' : 'list messages', 'GET', slow ? '/api/messages?slow=1' : '/api/messages');
  $('messages').replaceChildren();
  data.messages.forEach(showMessage);
}

function setUser() {
  $('who').textContent = me ? `logged in as ${me}` : 'not logged in';
  $('text').disabled = !token;
  $('send').disabled = !token;
}

function credentials() {
  return { username: $('username').value.trim(), password: $('password').value };
}

async function register() {
  const { username, password } = credentials();
  if (!$('auth').reportValidity()) return;
  await call('register', 'POST', '/api/users', { body: { username, password } });
  await login();
}

async function login() {
  const { username, password } = credentials();
  const basic = btoa(unescape(encodeURIComponent(`${username}:${password}`)));
  const data = await call('log in', 'POST', '/api/tokens', { headers: { authorization: `Basic ${basic}` } });
  token = data.token;
  me = username;
  sessionStorage.setItem('token', token);
  sessionStorage.setItem('me', me);
  setUser();
}

async function post() {
  const text = $('text').value.trim();
  if (!text) return;
  await call('post message', 'POST', '/api/messages', { body: { text }, headers: { authorization: `Bearer ${token}` } });
  $('text').value = '';
}

// Live updates: the WebSocket goes through edge to push; reconnects with backoff.
function connect(delay = 1000) {
  const socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  socket.addEventListener('open', () => { $('live').classList.add('on'); delay = 1000; });
  socket.addEventListener('message', (event) => {
    try { showMessage(JSON.parse(event.data)); } catch { /* not a message */ }
  });
  socket.addEventListener('close', () => {
    $('live').classList.remove('on');
    setTimeout(() => connect(Math.min(delay * 2, 15000)), delay);
  });
}

function guard(action) {
  return (event) => {
    event?.preventDefault();
    action().catch((error) => console.warn(error.message));
  };
}

$('auth').addEventListener('submit', guard(login));
$('register').addEventListener('click', guard(register));
$('post').addEventListener('submit', guard(post));
$('refresh').addEventListener('click', guard(() => loadMessages(false)));
$('slow').addEventListener('click', guard(() => loadMessages(true)));
$('legacy').addEventListener('click', guard(() => call('legacy stats', 'GET', '/api/legacy/stats')));
setUser();
loadMessages().catch((error) => console.warn(error.message));
connect();
