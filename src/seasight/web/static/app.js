// SeaSight web map: the common operating picture in one page.
//
// Plain ES module, no bundler. MapLibre GL (vendored by web/build.sh, loaded as the global
// `maplibregl`) draws everything with WebGL from GeoJSON served by the SeaSight API; there is no
// tile server, no glyph server and no request leaves the origin. Text is never drawn by the map
// (that would need glyphs): names go in HTML popups, the legend and the side panels.
//
// Data flow:
//   /api/layers/{land,lanes,ports}, /api/zones  -> static base layers
//   /api/vessels[?at=]                          -> `vessels` map (mmsi -> feature) -> one GeoJSON
//                                                  source, refreshed with setData (no per-vessel DOM)
//   /api/stream (WebSocket)                     -> position updates merged into `vessels`,
//                                                  new events and alerts prepended to the lists
//   /api/vessels/{mmsi}, /track                 -> dossier panel and the track on the map
//   /api/events, /api/alerts                    -> side lists, timeline strip, acknowledge
//
// `window.seasight` exposes the state for debugging and for the browser tests.

import {
  BASE_STYLE,
  COG,
  EVENT_KINDS,
  HAS_DIRECTION,
  HEADING,
  KIND_COLOURS,
  NOT_SCORED,
  RISK_STOPS,
  ROTATION,
  SHIP_TYPE_PALETTE,
  SWATCH,
  SWATCH_SCALE,
  SYMBOLS,
  TYPE_STEPS,
  arrowImage,
  arrowSvg,
  kindLabel,
  linePaint,
  ringImage,
  ringPaint,
  riskColour,
  swatchSvg,
  typeColour,
  typeColourOf,
} from './symbols.js';

const API = '/api';
const VESSEL_LIMIT = 50000; // every vessel, up to the API's largest page (query.MAX_LIMIT)
const REDRAW_MS = 250; // at most four vessel redraws a second, however fast the stream is
// Requests that must not open the sign-in dialog on a 401 (they are how one signs in).
const AUTH_PATHS = new Set(['/login', '/logout']);


// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

const state = {
  map: null,
  ready: false, // base style loaded and every layer added
  vesselsLoaded: false, // first /api/vessels answer drawn
  vesselsDrawnAt: null, // ms since navigation when the map was first idle with the vessels
  // The latest vessel redraws, for the benchmark (all in ms of performance.now()): `at` the
  // setData call, `setData` its main-thread time, `drawn` from `at` until the map was next idle
  // (the worker has tiled the vessels and the frame is drawn), `vessels` how many.
  redraws: [],
  positionsAt: null, // when the latest stream positions were merged into `vessels`
  vessels: new Map(), // mmsi -> GeoJSON feature (latest position)
  // mmsi of vessels changed since the last redraw, sent to the map as a diff; null when the
  // whole collection must be sent (first load, a reload, a replay time, sign-out)
  changed: null,
  vesselCount: 0,
  colourBy: 'type',
  at: null, // ISO time of the replay, null when live
  timeRange: null, // [minMs, maxMs] covered by the slider
  selected: null, // mmsi of the vessel in the dossier
  dossier: null,
  trackPoints: 0, // fixes of the drawn track
  events: [],
  eventTotal: 0,
  eventKind: '',
  alerts: [],
  alertState: 'new',
  stream: { state: 'offline', messages: 0, socket: null, retry: 0, timer: null },
  // Sign-in: `required` is null until known, false when the service has no sign-in (answers
  // without credentials), true otherwise; `user` is the /api/me answer.
  auth: { required: null, user: null, pending: null, signIns: 0 },
  lastSearch: null, // {query, mmsi, by}
  errors: [],
};

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/** One request to the API (the session cookie goes with it: same origin). */
function send(path, options = {}) {
  return fetch(API + path, {
    credentials: 'same-origin', ...options,
    headers: { Accept: 'application/json', ...(options.headers || {}) },
  });
}

/** Parse an answer; throws an Error carrying the API's error message (and `status`). */
async function parse(path, response) {
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = text; }
  if (!response.ok) {
    const message = body && body.error ? body.error.message : `${response.status} ${response.statusText}`;
    const error = new Error(`${path}: ${message}`);
    error.status = response.status;
    error.retryAfter = Number(response.headers.get('Retry-After'))
      || Number(body && body.error && body.error.detail && body.error.detail.retry_after) || null;
    throw error;
  }
  return body;
}

/** Fetch JSON from the API. A 401 (not signed in, or the session expired) opens the sign-in
 * dialog and, once signed in, sends the request again. */
async function api(path, options = {}) {
  let response = await send(path, options);
  if (response.status === 401 && !AUTH_PATHS.has(path)) {
    await signIn();
    response = await send(path, options);
  }
  return parse(path, response);
}

/** Absolute URL of an API path (MapLibre fetches GeoJSON URLs from a worker). */
const apiUrl = (path) => new URL(API + path, window.location.href).href;

/** Items of a list answer, whether the API returns a bare list or {items: [...]}. */
const itemsOf = (body) => (Array.isArray(body) ? body : (body && (body.items || body.alerts || body.features)) || []);

function escapeHtml(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  }[c]));
}

/** "2024-03-01 12:34Z" from an ISO time (UTC, the watch floor's clock). */
function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().slice(0, 16).replace('T', ' ') + 'Z';
}

function fmtDuration(startIso, endIso) {
  if (!startIso || !endIso) return '';
  const h = (new Date(endIso) - new Date(startIso)) / 3.6e6;
  return h >= 48 ? `${(h / 24).toFixed(1)} d` : `${h.toFixed(1)} h`;
}

function say(text, isError = false) {
  const el = $('message');
  el.textContent = text;
  el.style.color = isError ? 'var(--danger)' : '';
  if (isError) state.errors.push(text);
}

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

const vesselName = (p) => (p && (p.name || p.shipname)) || (p && p.mmsi ? `MMSI ${p.mmsi}` : 'unknown');

// ---------------------------------------------------------------------------------------------
// Sign-in
//
// The service authenticates every /api call but the health check: the page signs in with
// POST /api/login (a user name and password, or an API key handed over in the address as
// `#key=ss_...` by `seasight demo`), which sets the HttpOnly session cookie; fetch, MapLibre's
// GeoJSON requests and the WebSocket all carry it. A service without sign-in (404 on /me and
// /login) answers without credentials and the page works the same.
// ---------------------------------------------------------------------------------------------

/** The API key in the address fragment (`#key=ss_...`), or null. */
function fragmentKey() {
  const hash = window.location.hash.replace(/^#/, '');
  if (!hash) return null;
  const key = new URLSearchParams(hash).get('key');
  return key && key.trim() ? key.trim() : null;
}

/** Take the key out of the address bar (and the history entry) without reloading. */
function dropFragmentKey() {
  const params = new URLSearchParams(window.location.hash.replace(/^#/, ''));
  params.delete('key');
  const rest = params.toString();
  const url = window.location.pathname + window.location.search + (rest ? `#${rest}` : '');
  window.history.replaceState(window.history.state, '', url);
}

/** POST /api/login; returns the signed-in user, or null when the service has no sign-in.
 * Throws (with `status`, `retryAfter`) on bad credentials and rate limiting. */
async function login(credentials) {
  const response = await send('/login', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(credentials),
  });
  if (response.status === 404 || response.status === 405) {
    auth().required = false;
    return null;
  }
  const user = await parse('/login', response);
  setUser(user);
  return user;
}

const auth = () => state.auth;

function setUser(user) {
  const a = auth();
  a.user = user;
  if (user) a.required = true;
  const box = $('account');
  if (!user) { box.hidden = true; $('account-user').textContent = ''; return; }
  const raw = user.user || user.username || '';
  // A key of no user is named `key:<key id>` by the service.
  const name = raw.startsWith('key:') ? `API key ${raw.slice(4)}` : raw || 'API key';
  const org = user.organisation || user.org || '';
  $('account-user').textContent = org ? `${name} @ ${org}` : name;
  $('account-user').title = [
    user.roles && user.roles.length ? `roles: ${[].concat(user.roles).join(', ')}` : '',
    user.expires ? `session until ${fmtTime(user.expires)}` : '',
  ].filter(Boolean).join('\n');
  box.hidden = false;
}

/** Find out who we are: GET /api/me. 404: the service has no sign-in. 401: open the dialog. */
async function checkSession() {
  const response = await send('/me');
  if (response.status === 404 || response.status === 405) {
    auth().required = false;
    setUser(null);
    return null;
  }
  if (response.status === 401) {
    auth().required = true;
    await signIn();
    return auth().user;
  }
  const user = await parse('/me', response);
  setUser(user);
  return user;
}

/** Start-up: sign in with the key of the address fragment, if any, then ask who we are. */
async function startSession() {
  const key = fragmentKey();
  if (key) {
    try {
      await login({ key });
    } catch (error) {
      say(error.status === 401 ? 'the key in the address was refused: sign in' : error.message, true);
    } finally {
      dropFragmentKey();
    }
  }
  if (!auth().user) await checkSession();
}

/** Show the sign-in dialog until the user signs in. Every caller waiting for a sign-in shares
 * one dialog; resolves with the user. */
function signIn() {
  const a = auth();
  if (a.pending) return a.pending;
  a.required = true;
  setUser(null);
  const dialog = $('signin-dialog');
  const form = $('signin-form');
  const error = $('signin-error');
  a.pending = new Promise((resolve) => {
    const submit = async (e) => {
      e.preventDefault();
      const username = form.elements.username.value.trim();
      const password = form.elements.password.value;
      if (!username || !password) { error.textContent = 'Enter your user name and password.'; return; }
      const button = form.querySelector('button[type=submit]');
      button.disabled = true;
      error.textContent = '';
      try {
        const user = await login({ username, password });
        form.removeEventListener('submit', submit);
        form.reset();
        dialog.close();
        a.pending = null;
        a.signIns += 1;
        resolve(user);
        afterSignIn();
      } catch (err) {
        if (err.status === 429) {
          error.textContent = `Too many attempts: try again in ${err.retryAfter || 60} s.`;
        } else if (err.status === 401) {
          error.textContent = 'Wrong user name or password.';
        } else {
          error.textContent = err.message;
        }
        form.elements.password.select();
      } finally {
        button.disabled = false;
      }
    };
    form.addEventListener('submit', submit);
  });
  if (!dialog.open) dialog.showModal();
  form.elements.username.focus();
  return a.pending;
}

/** After a sign-in that interrupted the page (expired session, sign-out): reload what the
 * map shows (the base layers MapLibre may have failed to fetch included) and reconnect. */
function afterSignIn() {
  if (!state.ready) return;
  for (const [id, path] of BASE_SOURCES) {
    const source = state.map.getSource(id);
    if (source) source.setData(apiUrl(path));
  }
  Promise.allSettled([loadVessels(), loadEvents(), loadAlerts()]).then((results) => {
    for (const r of results) if (r.status === 'rejected') say(r.reason.message, true);
  });
  if (!state.stream.socket) connectStream();
}

/** Sign out: end the session, clear the picture and show the sign-in dialog. */
async function signOut() {
  try {
    await send('/logout', { method: 'POST' });
  } catch (error) {
    say(error.message, true);
  }
  disconnectStream();
  state.vessels = new Map();
  state.changed = null;
  state.events = [];
  state.eventTotal = 0;
  state.alerts = [];
  if (state.selected != null) closeDossier();
  if (state.map && state.map.getSource('vessels')) scheduleRedraw();
  renderEvents();
  renderAlerts();
  say('signed out');
  signIn().catch(() => {});
}

// ---------------------------------------------------------------------------------------------
// Map, style and layers
// ---------------------------------------------------------------------------------------------

const emptyCollection = () => ({ type: 'FeatureCollection', features: [] });

// Base layers MapLibre fetches itself (with the session cookie): [source id, API path].
const BASE_SOURCES = [['land', '/layers/land'], ['lanes', '/layers/lanes'], ['zones', '/zones'],
  ['ports', '/layers/ports']];
const basePath = (id) => BASE_SOURCES.find(([name]) => name === id)[1];

// ---------------------------------------------------------------------------------------------
// Map symbols: one table styles the layers and draws the legend
//
// SYMBOLS holds how each thing is drawn (colour, size, dash); MAP_LAYERS lists every layer the
// map adds, its paint built from SYMBOLS, and `legend()`, the legend entries it is shown by,
// built from the same SYMBOLS. A layer is either the base map (`base`), shown by its own
// entries (`legend`), or drawn as part of another layer's entry (`legendWith`); addLayers()
// refuses any other, and the browser test checks every style layer against the legend.
// Legend swatches are drawn in the shape the map draws: arrow, ring, dot, line, area.
// ---------------------------------------------------------------------------------------------


/** Legend entries of the vessel layer: an arrow per ship type or risk band, and the ring of a
 * vessel reporting no course (coloured the same way). */
function vesselEntries() {
  const entries = [];
  if (state.colourBy === 'risk') {
    for (const [v, c] of RISK_STOPS) entries.push({ label: `risk ${v}+`, swatch: { ...SYMBOLS.vessel, colour: c } });
    entries.push({ label: 'not scored', swatch: { ...SYMBOLS.vessel, colour: NOT_SCORED } });
  } else {
    for (const [label, c] of Object.entries(SHIP_TYPE_PALETTE)) entries.push({ label, swatch: { ...SYMBOLS.vessel, colour: c } });
  }
  entries.push({ label: 'no course reported', swatch: { ...SYMBOLS.vesselNoCourse, colour: NOT_SCORED } });
  return entries;
}

const MAP_LAYERS = [
  // Base map: Natural Earth land (and the style's sea background); no legend entry.
  { id: 'land', type: 'fill', source: 'land', base: true,
    paint: { 'fill-color': SYMBOLS.land.colour, 'fill-outline-color': SYMBOLS.land.outline } },
  { id: 'lanes', type: 'line', source: 'lanes', paint: linePaint(SYMBOLS.lane),
    legend: () => [{ group: 'map', label: 'shipping lane', swatch: SYMBOLS.lane }] },
  { id: 'zones-fill', type: 'fill', source: 'zones',
    paint: { 'fill-color': SYMBOLS.zone.colour, 'fill-opacity': SYMBOLS.zone.fillOpacity },
    legend: () => [{ group: 'map', label: 'zone', swatch: SYMBOLS.zone }] },
  { id: 'zones-line', type: 'line', source: 'zones', paint: linePaint(SYMBOLS.zone), legendWith: 'zones-fill' },
  { id: 'ports', type: 'circle', source: 'ports',
    paint: { 'circle-radius': ['interpolate', ['linear'], ['zoom'], 2, 1.5, 8, SYMBOLS.port.radius],
      'circle-color': SYMBOLS.port.colour, 'circle-opacity': SYMBOLS.port.opacity },
    legend: () => [{ group: 'map', label: 'port', swatch: SYMBOLS.port }] },
  // Events (points at their positions; filtered like the list): a ring per kind.
  { id: 'events', type: 'circle', source: 'events',
    paint: () => {
      const kindColour = ['match', ['get', 'kind']];
      for (const [k, c] of Object.entries(KIND_COLOURS)) kindColour.push(k, c);
      kindColour.push('#cccccc');
      return ringPaint(SYMBOLS.eventRing, kindColour);
    },
    legend: () => EVENT_KINDS.map((kind) => ({ group: 'events', label: kindLabel(kind),
      swatch: { ...SYMBOLS.eventRing, colour: KIND_COLOURS[kind] } })) },
  // The selected vessel's track.
  { id: 'track-line', type: 'line', source: 'track', filter: ['==', ['geometry-type'], 'LineString'],
    paint: linePaint(SYMBOLS.track),
    legend: () => [{ group: 'marks', label: 'track of the selected vessel', swatch: SYMBOLS.track }] },
  // Vessels: one GeoJSON source, one symbol layer; watch-listed vessels get a red ring.
  { id: 'vessels-listed', type: 'circle', source: 'vessels', filter: ['==', ['get', 'listed'], true],
    paint: ringPaint(SYMBOLS.listed),
    legend: () => [{ group: 'marks', label: 'on a watchlist', swatch: SYMBOLS.listed }] },
  { id: 'vessels', type: 'symbol', source: 'vessels',
    layout: {
      'icon-image': ['case', HAS_DIRECTION, 'vessel-arrow', 'vessel-ring'],
      'icon-rotate': ROTATION,
      'icon-rotation-alignment': 'map',
      'icon-size': ['interpolate', ['linear'], ['zoom'], 2, 0.7, 8, 1, 12, 1.3],
      'icon-allow-overlap': true,
      'icon-ignore-placement': true,
    },
    paint: () => ({ 'icon-color': state.colourBy === 'risk' ? riskColour() : typeColour(),
      'icon-halo-color': SYMBOLS.vessel.halo, 'icon-halo-width': SYMBOLS.vessel.haloWidth }),
    legend: () => vesselEntries().map((e) => ({ group: 'vessels', ...e })) },
  { id: 'vessel-selected', type: 'circle', source: 'vessels', filter: ['==', ['get', 'mmsi'], -1],
    paint: ringPaint(SYMBOLS.selected),
    legend: () => [{ group: 'marks', label: 'selected vessel', swatch: SYMBOLS.selected }] },
];
// Layers of the base map, drawn without a legend entry: the style's background and the land.
const BASE_MAP_LAYERS = new Set([...BASE_STYLE.layers.map((l) => l.id),
  ...MAP_LAYERS.filter((l) => l.base).map((l) => l.id)]);

function addLayers(map) {
  map.addImage('vessel-arrow', arrowImage(), { sdf: true, pixelRatio: 2 });
  map.addImage('vessel-ring', ringImage(), { sdf: true, pixelRatio: 2 });
  // GeoJSON sources: the base layers from the API, the rest filled by the page.
  for (const [id, path] of BASE_SOURCES) map.addSource(id, { type: 'geojson', data: apiUrl(path) });
  map.addSource('events', { type: 'geojson', data: emptyCollection() });
  map.addSource('track', { type: 'geojson', data: emptyCollection() });
  map.addSource('vessels', { type: 'geojson', data: emptyCollection(), promoteId: 'mmsi' });

  const ids = new Set(MAP_LAYERS.map((l) => l.id));
  for (const def of MAP_LAYERS) {
    const shown = def.base || typeof def.legend === 'function' || ids.has(def.legendWith);
    if (!shown) throw new Error(`map layer ${def.id} has no legend entry`);
    const { id, type, source, filter, layout } = def;
    const paint = typeof def.paint === 'function' ? def.paint() : def.paint;
    map.addLayer({ id, type, source, ...(filter ? { filter } : {}), ...(layout ? { layout } : {}), paint });
  }
  const missing = layersWithoutLegend(map);
  if (missing.length) say(`no legend entry for map layer(s) ${missing.join(', ')}`, true);
}

/** Ids of the map's style layers (but the base map) that no legend row stands for. */
function layersWithoutLegend(map = state.map) {
  if (!map) return [];
  const shown = new Set();
  for (const row of document.querySelectorAll('#legend [data-layers]')) {
    for (const id of row.dataset.layers.split(' ')) shown.add(id);
  }
  return map.getStyle().layers.map((l) => l.id).filter((id) => !BASE_MAP_LAYERS.has(id) && !shown.has(id));
}

// Legend groups, in the order shown.
const LEGEND_GROUPS = [
  ['vessels', () => (state.colourBy === 'risk' ? 'Vessels by risk score' : 'Vessels by ship type')],
  ['marks', () => 'Marks'],
  ['events', () => 'Events'],
  ['map', () => 'Map'],
];
/** Every legend entry with the ids of the map layers it stands for. */
function legendEntries() {
  const entries = [];
  for (const def of MAP_LAYERS) {
    if (def.base || def.legendWith) continue;
    const layers = [def.id, ...MAP_LAYERS.filter((l) => l.legendWith === def.id).map((l) => l.id)];
    for (const entry of def.legend()) entries.push({ ...entry, layers });
  }
  return entries;
}

function renderLegend() {
  const entries = legendEntries();
  const html = [];
  for (const [group, title] of LEGEND_GROUPS) {
    const rows = entries.filter((e) => e.group === group);
    if (!rows.length) continue;
    html.push(`<section class="legend-group" data-group="${group}"><h3>${escapeHtml(title())}</h3><div class="rows">`);
    for (const e of rows) {
      html.push(`<div class="row" data-layers="${escapeHtml(e.layers.join(' '))}"`
        + ` data-colour="${escapeHtml(e.swatch.colour || '')}">${swatchSvg(e.swatch)}<span>${escapeHtml(e.label)}</span></div>`);
    }
    html.push('</div></section>');
  }
  const stray = entries.filter((e) => !LEGEND_GROUPS.some(([g]) => g === e.group));
  if (stray.length) throw new Error(`legend entries of no group: ${stray.map((e) => e.label).join(', ')}`);
  $('legend-body').innerHTML = html.join('');
}

function bindMapInteractions(map) {
  const popup = new maplibregl.Popup({ closeButton: false, closeOnClick: false, offset: 12 });
  map.on('mousemove', 'vessels', (e) => {
    const p = e.features[0].properties;
    map.getCanvas().style.cursor = 'pointer';
    const speed = p.sog == null ? '' : ` · ${Number(p.sog).toFixed(1)} kn`;
    popup.setLngLat(e.lngLat)
      .setHTML(`<strong>${escapeHtml(vesselName(p))}</strong><br>`
        + `<span class="muted">MMSI ${escapeHtml(p.mmsi)}${speed}</span>`)
      .addTo(map);
  });
  map.on('mouseleave', 'vessels', () => { map.getCanvas().style.cursor = ''; popup.remove(); });
  map.on('click', 'vessels', (e) => selectVessel(Number(e.features[0].properties.mmsi)));
  map.on('click', 'events', (e) => {
    const p = e.features[0].properties;
    new maplibregl.Popup({ offset: 8 }).setLngLat(e.lngLat)
      .setHTML(`<strong>${escapeHtml(p.kind)}</strong><br>${escapeHtml(fmtTime(p.start))}`)
      .addTo(map);
  });
}

// ---------------------------------------------------------------------------------------------
// Vessels
// ---------------------------------------------------------------------------------------------

let redrawPending = false;

/** Push `state.vessels` into the map source, at most every REDRAW_MS. */
function scheduleRedraw() {
  if (redrawPending) return;
  redrawPending = true;
  setTimeout(() => {
    redrawPending = false;
    const source = state.map && state.map.getSource('vessels');
    if (!source) return;
    const started = performance.now();
    const changed = state.changed;
    state.changed = new Set();
    // A few changed vessels go as a diff (MapLibre re-indexes without re-sending the whole
    // collection to its worker); a first load or a reload sends everything.
    const diff = changed && changed.size && changed.size < state.vessels.size / 2
      && typeof source.updateData === 'function';
    if (diff) {
      source.updateData({ add: Array.from(changed, (m) => state.vessels.get(m)).filter(Boolean) });
    } else {
      source.setData({ type: 'FeatureCollection', features: Array.from(state.vessels.values()) });
    }
    const redraw = { at: started, setData: performance.now() - started, drawn: null,
      vessels: diff ? changed.size : state.vessels.size, diff: Boolean(diff) };
    state.redraws.push(redraw);
    if (state.redraws.length > 200) state.redraws.splice(0, state.redraws.length - 200);
    // Every vessel is on screen when the map is next idle (the worker has tiled them).
    state.map.once('idle', () => {
      const now = performance.now();
      redraw.drawn = now - started;
      if (!state.vesselsDrawnAt && redraw.vessels) state.vesselsDrawnAt = now;
    });
    state.vesselCount = state.vessels.size;
    $('vessel-count').textContent = `${state.vesselCount.toLocaleString('en')} vessels`
      + (state.at ? ` at ${fmtTime(state.at)}` : '');
    state.vesselsLoaded = true;
  }, REDRAW_MS);
}

/** Load every vessel's latest position (as of `state.at` when replaying). */
async function loadVessels() {
  const params = new URLSearchParams({ limit: String(VESSEL_LIMIT) });
  if (state.at) params.set('at', state.at);
  const body = await api(`/vessels?${params}`);
  const next = new Map();
  for (const f of body.features || []) {
    if (f.geometry && f.properties && f.properties.mmsi != null) {
      f.id = Number(f.properties.mmsi); // the feature id MapLibre's diffs name it by
      next.set(f.id, f);
    }
  }
  state.vessels = next;
  state.changed = null;
  updateTimeRange();
  scheduleRedraw();
  refreshSuggestions();
}

/** Merge position updates from the stream (GeoJSON features or flat records). */
function mergePositions(message) {
  if (state.at) return; // replaying the past: the live picture waits
  const rows = message.features || message.items || message.positions || message.rows
    || (message.data && (message.data.features || message.data)) || [];
  for (const row of Array.isArray(rows) ? rows : []) {
    const feature = row.type === 'Feature' ? row : {
      type: 'Feature',
      geometry: { type: 'Point', coordinates: [Number(row.lon), Number(row.lat)] },
      properties: { ...row },
    };
    const mmsi = Number(feature.properties && feature.properties.mmsi);
    if (!Number.isFinite(mmsi) || !feature.geometry) continue;
    const old = state.vessels.get(mmsi);
    // Keep what the update does not carry (name, type, risk, list membership).
    if (old) feature.properties = { ...old.properties, ...feature.properties };
    feature.id = mmsi;
    state.vessels.set(mmsi, feature);
    if (state.changed) state.changed.add(mmsi);
  }
  state.positionsAt = performance.now();
  scheduleRedraw();
}

function setColourBy(mode) {
  state.colourBy = mode;
  if (state.map && state.map.getLayer('vessels')) {
    state.map.setPaintProperty('vessels', 'icon-color', mode === 'risk' ? riskColour() : typeColour());
  }
  renderLegend();
}

// ---------------------------------------------------------------------------------------------
// Dossier and track
// ---------------------------------------------------------------------------------------------

async function selectVessel(mmsi, { fly = false } = {}) {
  state.selected = mmsi;
  state.map.setFilter('vessel-selected', ['==', ['get', 'mmsi'], mmsi]);
  const panel = $('dossier');
  panel.hidden = false;
  $('dossier-body').innerHTML = `<p class="muted">Loading MMSI ${escapeHtml(mmsi)}…</p>`;
  const feature = state.vessels.get(mmsi);
  if (fly && feature) flyTo(feature.geometry.coordinates);
  try {
    const [dossier] = await Promise.all([api(`/vessels/${mmsi}`), loadTrack(mmsi)]);
    if (state.selected !== mmsi) return; // another vessel was clicked meanwhile
    state.dossier = dossier;
    renderDossier(dossier);
  } catch (error) {
    $('dossier-body').innerHTML = `<p class="sev-high">${escapeHtml(error.message)}</p>`;
  }
}

async function loadTrack(mmsi) {
  const params = new URLSearchParams();
  if (state.at) params.set('until', state.at);
  const query = params.toString();
  const body = await api(`/vessels/${mmsi}/track${query ? `?${query}` : ''}`).catch(() => null);
  const features = body ? (body.type === 'FeatureCollection' ? body.features : [body]) : [];
  state.map.getSource('track').setData({ type: 'FeatureCollection', features });
  state.trackPoints = features.reduce((n, f) => n + ((f.geometry && f.geometry.coordinates) || []).length, 0);
  return body;
}

function closeDossier() {
  state.selected = null;
  state.dossier = null;
  $('dossier').hidden = true;
  state.map.setFilter('vessel-selected', ['==', ['get', 'mmsi'], -1]);
  state.map.getSource('track').setData(emptyCollection());
  state.trackPoints = 0;
}

function renderDossier(d) {
  const ident = d.identity || {};
  const risk = d.risk || null;
  const last = d.last_position || {};
  const rows = (pairs) => pairs.filter(([, v]) => v != null && v !== '')
    .map(([k, v]) => `<tr><th scope="row">${k}</th><td>${escapeHtml(v)}</td></tr>`).join('');

  const history = (d.identity_history || []).map((h) => `<tr>
      <td>${escapeHtml(fmtTime(h.valid_from))}</td>
      <td>${escapeHtml(h.shipname ?? h.name ?? '')}</td><td>${escapeHtml(h.imo ?? '')}</td>
      <td>${escapeHtml(h.callsign ?? '')}</td><td>${escapeHtml(h.flag ?? '')}</td></tr>`).join('');

  const factors = risk && Array.isArray(risk.factors) ? risk.factors.map((f) => `<tr>
      <td>${escapeHtml(f.factor)}</td><td>${escapeHtml(f.points)}</td>
      <td>${escapeHtml(f.detail ?? '')}</td></tr>`).join('') : '';

  const events = (d.events || []).slice(-50).reverse().map((e) => `<tr>
      <td><span class="kind-dot" style="background:${KIND_COLOURS[e.kind] || '#ccc'}"></span>${escapeHtml(e.kind)}</td>
      <td>${escapeHtml(fmtTime(e.start))}</td><td>${escapeHtml(fmtDuration(e.start, e.end))}</td>
      <td>${e.other ? escapeHtml(e.other.shipname || e.other.mmsi) : ''}</td></tr>`).join('');

  const matches = (d.watchlist_matches || []).map((m) => `<li>${escapeHtml(m.list_name || '')}
      ${escapeHtml(m.entry_name || '')} (${escapeHtml(m.matched_on || '')}, ${escapeHtml(m.status || '')})</li>`).join('');

  $('dossier-body').innerHTML = `
    <h2>${escapeHtml(d.name || vesselName(ident))}</h2>
    <div class="muted">MMSI ${escapeHtml(d.mmsi)}${ident.imo ? ` · IMO ${escapeHtml(ident.imo)}` : ''}
      ${d.designated ? ' · <span class="designated">DESIGNATED</span>' : ''}</div>
    <h3>Identity</h3>
    <table>${rows([['Call sign', ident.callsign], ['Type', ident.ship_type_text || ident.ship_type],
      ['Flag', ident.flag], ['Destination', ident.destination],
      ['Last seen', fmtTime(last.ts)],
      ['Position', last.lat != null ? `${Number(last.lat).toFixed(4)}, ${Number(last.lon).toFixed(4)}` : null],
      ['Speed', last.sog != null ? `${Number(last.sog).toFixed(1)} kn` : null],
      ['Track', d.track ? `${d.track.n_points} fixes` : null]])}</table>
    <h3>Risk</h3>
    ${risk ? `<div><span class="risk-score">${Number(risk.score).toFixed(0)}</span>
      <span class="muted">/ 100 · rank ${escapeHtml(risk.rank)}</span></div>
      <table><thead><tr><th>Factor</th><th>Points</th><th>Detail</th></tr></thead>
      <tbody>${factors || '<tr><td colspan="3" class="muted">no factors</td></tr>'}</tbody></table>`
      : '<p class="muted">Not scored.</p>'}
    ${matches ? `<h3>Watchlist matches</h3><ul>${matches}</ul>` : ''}
    <h3>Identity history</h3>
    ${history ? `<table><thead><tr><th>From</th><th>Name</th><th>IMO</th><th>Call sign</th><th>Flag</th></tr></thead>
      <tbody>${history}</tbody></table>` : '<p class="muted">No static reports.</p>'}
    <h3>Events (${(d.events || []).length})</h3>
    ${events ? `<table><thead><tr><th>Kind</th><th>Start</th><th>Length</th><th>With</th></tr></thead>
      <tbody>${events}</tbody></table>` : '<p class="muted">None.</p>'}`;
}

// ---------------------------------------------------------------------------------------------
// Search and fly-to
// ---------------------------------------------------------------------------------------------

function flyTo(coordinates) {
  state.map.flyTo({ center: coordinates, zoom: Math.max(state.map.getZoom(), 8), speed: 1.6 });
}

/** Find a vessel by MMSI, IMO or name: first among the vessels on the map, then through the
 * dossier endpoint (which resolves IMO numbers and fuzzy names server side). */
function findLocal(query) {
  const q = query.trim().toLowerCase();
  const imo = q.replace(/^imo[\s:]*/, '');
  if (/^\d{9}$/.test(q) && state.vessels.has(Number(q))) return { mmsi: Number(q), by: 'mmsi' };
  let prefix = null;
  let contains = null;
  for (const [mmsi, f] of state.vessels) {
    const p = f.properties;
    const name = String(p.name || p.shipname || '').toLowerCase();
    if (p.imo != null && String(p.imo) === imo) return { mmsi, by: 'imo' };
    if (!name) continue;
    if (name === q) return { mmsi, by: 'name' };
    if (!prefix && name.startsWith(q)) prefix = mmsi;
    if (!contains && name.includes(q)) contains = mmsi;
  }
  if (prefix ?? contains) return { mmsi: prefix ?? contains, by: 'name' };
  return null;
}

async function search(query) {
  const q = String(query || '').trim();
  const status = $('search-status');
  if (!q) return null;
  status.textContent = 'searching…';
  let hit = findLocal(q);
  if (!hit) {
    try {
      const d = await api(`/vessels/${encodeURIComponent(q)}`);
      hit = { mmsi: Number(d.mmsi), by: d.resolved_by || 'server' };
    } catch {
      hit = null;
    }
  }
  state.lastSearch = { query: q, mmsi: hit ? hit.mmsi : null, by: hit ? hit.by : null };
  if (!hit) {
    status.textContent = `no vessel matches “${q}”`;
    return null;
  }
  const f = state.vessels.get(hit.mmsi);
  status.textContent = `${vesselName(f ? f.properties : { mmsi: hit.mmsi })} (by ${hit.by})`;
  await selectVessel(hit.mmsi, { fly: true });
  if (!f && state.dossier && state.dossier.last_position) {
    const lp = state.dossier.last_position;
    flyTo([lp.lon, lp.lat]);
  }
  return hit;
}

/** Offer up to 50 vessel names in the search box's suggestion list. */
const refreshSuggestions = debounce(() => {
  const names = [];
  for (const f of state.vessels.values()) {
    const n = f.properties.name || f.properties.shipname;
    if (n) names.push(n);
    if (names.length >= 50) break;
  }
  $('search-suggestions').innerHTML = names.map((n) => `<option value="${escapeHtml(n)}">`).join('');
}, 500);

// ---------------------------------------------------------------------------------------------
// Events list, event layer and timeline strip
// ---------------------------------------------------------------------------------------------

async function loadEvents() {
  const params = new URLSearchParams({ limit: '500' });
  if (state.eventKind) params.set('kind', state.eventKind);
  if (state.at) params.set('until', state.at);
  const body = await api(`/events?${params}`);
  state.events = itemsOf(body);
  state.eventTotal = body && body.total != null ? body.total : state.events.length;
  updateTimeRange();
  renderEvents();
}

function eventFeatures(events) {
  return events.filter((e) => e.lat != null && e.lon != null).map((e) => ({
    type: 'Feature', geometry: { type: 'Point', coordinates: [e.lon, e.lat] },
    properties: { event_id: e.event_id, kind: e.kind, start: e.start },
  }));
}

function renderEvents() {
  const visible = state.eventKind ? state.events.filter((e) => e.kind === state.eventKind) : state.events;
  $('event-count').textContent = String(state.eventTotal);
  // Newest first.
  const sorted = [...visible].sort((a, b) => String(b.start).localeCompare(String(a.start)));
  $('event-list').innerHTML = sorted.slice(0, 300).map((e) => {
    const vessels = (Array.isArray(e.mmsi) ? e.mmsi : [e.mmsi]).join(' ↔ ');
    return `<li data-kind="${escapeHtml(e.kind)}"><button class="row" type="button" data-event="${escapeHtml(e.event_id)}">
      <span class="title"><span class="kind-dot" style="background:${KIND_COLOURS[e.kind] || '#ccc'}"></span>${escapeHtml(e.kind)}</span>
      ${e.is_open ? '<span class="badge">open</span>' : ''}
      <div class="meta">${escapeHtml(fmtTime(e.start))} · ${escapeHtml(fmtDuration(e.start, e.end))} · ${escapeHtml(vessels)}${e.zone ? ` · ${escapeHtml(e.zone)}` : ''}</div>
    </button></li>`;
  }).join('') || '<li class="muted">No events.</li>';
  if (state.map && state.map.getSource('events')) state.map.getSource('events').setData({ type: 'FeatureCollection', features: eventFeatures(visible) });
  drawTimeline();
}

function addEventKindOptions() {
  const select = $('event-kind');
  for (const kind of EVENT_KINDS) {
    const option = document.createElement('option');
    option.value = kind;
    option.textContent = kind.replace('_', ' ');
    select.appendChild(option);
  }
}

/** The slider's time range: from the first event (or a day before the latest fix) to the
 * latest fix or event seen. Only widens, so replaying does not shrink it. */
function updateTimeRange() {
  let lo = Infinity;
  let hi = -Infinity;
  for (const f of state.vessels.values()) {
    const t = Date.parse(f.properties.ts);
    if (Number.isFinite(t)) { lo = Math.min(lo, t); hi = Math.max(hi, t); }
  }
  for (const e of state.events) {
    const s = Date.parse(e.start);
    const t = Date.parse(e.end || e.start);
    if (Number.isFinite(s)) lo = Math.min(lo, s);
    if (Number.isFinite(t)) hi = Math.max(hi, t);
  }
  if (!Number.isFinite(hi)) return;
  lo = Math.min(lo, hi - 24 * 3.6e6);
  if (state.timeRange) { lo = Math.min(lo, state.timeRange[0]); hi = Math.max(hi, state.timeRange[1]); }
  state.timeRange = [lo, hi];
  drawTimeline();
}

/** Histogram of event starts per time bin, coloured by kind, with the replay time marked. */
function drawTimeline() {
  const canvas = $('timeline');
  const width = canvas.clientWidth || 300;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(48 * ratio);
  const ctx = canvas.getContext('2d');
  ctx.scale(ratio, ratio);
  ctx.clearRect(0, 0, width, 48);
  if (!state.timeRange) return;
  const [lo, hi] = state.timeRange;
  const span = Math.max(hi - lo, 1);
  const bins = Math.max(10, Math.floor(width / 4));
  const counts = Array.from({ length: bins }, () => ({}));
  let max = 1;
  const visible = state.eventKind ? state.events.filter((e) => e.kind === state.eventKind) : state.events;
  for (const e of visible) {
    const t = Date.parse(e.start);
    if (!Number.isFinite(t)) continue;
    const i = Math.min(bins - 1, Math.max(0, Math.floor(((t - lo) / span) * bins)));
    counts[i][e.kind] = (counts[i][e.kind] || 0) + 1;
    max = Math.max(max, Object.values(counts[i]).reduce((a, b) => a + b, 0));
  }
  const bw = width / bins;
  counts.forEach((bin, i) => {
    let y = 46;
    for (const [kind, n] of Object.entries(bin)) {
      const h = (n / max) * 40;
      ctx.fillStyle = KIND_COLOURS[kind] || '#cccccc';
      ctx.fillRect(i * bw, y - h, Math.max(bw - 1, 1), h);
      y -= h;
    }
  });
  // Replay cursor.
  const at = state.at ? Date.parse(state.at) : hi;
  const x = ((at - lo) / span) * width;
  ctx.fillStyle = state.at ? '#ffffff' : '#3ecf8e';
  ctx.fillRect(Math.min(Math.max(x - 1, 0), width - 2), 0, 2, 48);
}

// ---------------------------------------------------------------------------------------------
// Alerts
// ---------------------------------------------------------------------------------------------

async function loadAlerts() {
  const params = state.alertState ? `?state=${encodeURIComponent(state.alertState)}` : '';
  state.alerts = itemsOf(await api(`/alerts${params}`));
  renderAlerts();
}

function renderAlerts() {
  $('alert-count').textContent = String(state.alerts.length);
  const order = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };
  const sorted = [...state.alerts].sort((a, b) => (order[a.severity] ?? 5) - (order[b.severity] ?? 5)
    || String(b.created_at).localeCompare(String(a.created_at)));
  $('alert-list').innerHTML = sorted.map((a) => `<li data-alert="${escapeHtml(a.alert_id)}" data-state="${escapeHtml(a.state)}">
      <button class="row" type="button" data-mmsi="${escapeHtml(a.mmsi)}">
        <span class="title sev-${escapeHtml(a.severity)}">${escapeHtml(a.severity)}</span> · ${escapeHtml(a.rule || a.kind)}
        <div>${escapeHtml(a.message || '')}</div>
        <div class="meta">${escapeHtml(fmtTime(a.start))} · MMSI ${escapeHtml(a.mmsi)} · ${escapeHtml(a.state)}${a.note ? ` · “${escapeHtml(a.note)}”` : ''}</div>
      </button>
      ${a.state === 'new' ? `<form class="ack-form" data-alert="${escapeHtml(a.alert_id)}">
        <label class="visually-hidden" for="note-${escapeHtml(a.alert_id)}">Note for alert ${escapeHtml(a.alert_id)}</label>
        <input id="note-${escapeHtml(a.alert_id)}" name="note" type="text" placeholder="note">
        <button type="submit">Acknowledge</button></form>` : ''}
    </li>`).join('') || '<li class="muted">No alerts.</li>';
}

async function acknowledge(alertId, note) {
  const by = $('officer-name').value.trim() || 'watch officer';
  await api(`/alerts/${encodeURIComponent(alertId)}/ack`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ note: note || '', by }),
  });
  say(`alert ${alertId} acknowledged by ${by}`);
  await loadAlerts();
}

// ---------------------------------------------------------------------------------------------
// Replay (time slider)
// ---------------------------------------------------------------------------------------------

function sliderTime() {
  const slider = $('time-slider');
  if (!state.timeRange || Number(slider.value) >= Number(slider.max)) return null;
  const [lo, hi] = state.timeRange;
  return new Date(lo + (hi - lo) * (Number(slider.value) / Number(slider.max))).toISOString();
}

const replay = debounce(async () => {
  try {
    await Promise.all([loadVessels(), loadEvents()]);
    if (state.selected != null) await loadTrack(state.selected);
  } catch (error) {
    say(error.message, true);
  }
}, 250);

function setReplayTime(iso) {
  state.at = iso;
  $('time-label').textContent = iso ? fmtTime(iso) : 'live';
  $('live-button').setAttribute('aria-pressed', String(!iso));
  if (!iso) $('time-slider').value = $('time-slider').max;
  drawTimeline();
  replay();
}

// ---------------------------------------------------------------------------------------------
// Live stream
// ---------------------------------------------------------------------------------------------

function setStreamState(s) {
  state.stream.state = s;
  const pill = $('stream-state');
  pill.textContent = s;
  pill.className = `pill ${s === 'live' ? 'live' : s === 'error' ? 'error' : ''}`;
}

function connectStream() {
  clearTimeout(state.stream.timer);
  state.stream.timer = null;
  const url = new URL(`${API}/stream`, window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  let socket;
  try { socket = new WebSocket(url.href); } catch { setStreamState('error'); return; }
  state.stream.socket = socket;
  socket.onopen = () => { state.stream.retry = 0; setStreamState('live'); };
  socket.onmessage = (e) => {
    let message;
    try { message = JSON.parse(e.data); } catch { return; }
    state.stream.messages += 1;
    handleStreamMessage(message);
  };
  socket.onclose = () => {
    if (state.stream.socket !== socket) return; // closed on purpose (sign-out)
    state.stream.socket = null;
    setStreamState('offline');
    // Reconnect with back-off: 1 s, 2 s, 4 s ... at most 30 s; after checking the session
    // when the service signs in (a refused handshake is how an expired session shows).
    const delay = Math.min(30000, 1000 * 2 ** state.stream.retry);
    state.stream.retry += 1;
    state.stream.timer = setTimeout(async () => {
      if (auth().required) {
        try { await checkSession(); } catch (error) { say(error.message, true); }
      }
      if (!state.stream.socket) connectStream();
    }, delay);
  };
  socket.onerror = () => setStreamState('error');
}

function disconnectStream() {
  clearTimeout(state.stream.timer);
  state.stream.timer = null;
  const socket = state.stream.socket;
  state.stream.socket = null;
  if (socket) socket.close();
  setStreamState('offline');
}

const refreshAlertsSoon = debounce(() => loadAlerts().catch((e) => say(e.message, true)), 500);

function handleStreamMessage(message) {
  switch (message.type) {
    case 'positions':
      mergePositions(message);
      break;
    case 'event': {
      if (state.at) break;
      const events = message.items || (message.event ? [message.event] : [message.data || message]);
      for (const e of events) {
        if (!e || !e.event_id) continue;
        const i = state.events.findIndex((x) => x.event_id === e.event_id);
        if (i >= 0) state.events[i] = e;
        else if (!state.eventKind || e.kind === state.eventKind) { state.events.push(e); state.eventTotal += 1; }
      }
      renderEvents();
      break;
    }
    case 'alert':
      refreshAlertsSoon();
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Start-up
// ---------------------------------------------------------------------------------------------

function bindControls() {
  $('search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    search($('search-input').value).catch((error) => say(error.message, true));
  });
  for (const radio of document.querySelectorAll('input[name="colour-by"]')) {
    radio.addEventListener('change', () => setColourBy(radio.value));
  }
  $('event-kind').addEventListener('change', (e) => {
    state.eventKind = e.target.value;
    loadEvents().catch((error) => say(error.message, true));
  });
  $('event-list').addEventListener('click', (e) => {
    const button = e.target.closest('button[data-event]');
    if (!button) return;
    const ev = state.events.find((x) => String(x.event_id) === button.dataset.event);
    if (!ev) return;
    if (ev.lat != null) flyTo([ev.lon, ev.lat]);
    const mmsi = Array.isArray(ev.mmsi) ? ev.mmsi[0] : ev.mmsi;
    if (mmsi != null) selectVessel(Number(mmsi));
  });
  $('alert-state').addEventListener('change', (e) => {
    state.alertState = e.target.value;
    loadAlerts().catch((error) => say(error.message, true));
  });
  $('alert-list').addEventListener('click', (e) => {
    const button = e.target.closest('button[data-mmsi]');
    if (button && button.dataset.mmsi) selectVessel(Number(button.dataset.mmsi), { fly: true });
  });
  $('alert-list').addEventListener('submit', (e) => {
    e.preventDefault();
    const form = e.target.closest('form[data-alert]');
    if (!form) return;
    acknowledge(form.dataset.alert, form.elements.note.value).catch((error) => say(error.message, true));
  });
  $('officer-name').value = localStorage.getItem('seasight.officer') || $('officer-name').value;
  $('officer-name').addEventListener('change', (e) => localStorage.setItem('seasight.officer', e.target.value));
  $('dossier-close').addEventListener('click', closeDossier);
  $('sign-out').addEventListener('click', () => { signOut(); });
  // The sign-in dialog stays until the user signs in (Escape does not dismiss it).
  $('signin-dialog').addEventListener('cancel', (e) => e.preventDefault());
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && state.selected != null) closeDossier(); });
  $('time-slider').addEventListener('input', () => setReplayTime(sliderTime()));
  $('live-button').addEventListener('click', () => setReplayTime(null));
  $('timeline').addEventListener('click', (e) => {
    if (!state.timeRange) return;
    const rect = e.currentTarget.getBoundingClientRect();
    const fraction = Math.min(Math.max((e.clientX - rect.left) / rect.width, 0), 1);
    const slider = $('time-slider');
    slider.value = String(Math.round(fraction * Number(slider.max)));
    setReplayTime(sliderTime());
  });
  window.addEventListener('resize', debounce(drawTimeline, 200));
}

/** Wait for the vendored MapLibre script (classic, deferred) to define `maplibregl`. */
function maplibreReady() {
  return new Promise((resolve, reject) => {
    if (window.maplibregl) { resolve(window.maplibregl); return; }
    let tries = 0;
    const timer = setInterval(() => {
      if (window.maplibregl) { clearInterval(timer); resolve(window.maplibregl); }
      else if (++tries > 200) { clearInterval(timer); reject(new Error('vendor/maplibre-gl.js did not load (run web/build.sh)')); }
    }, 50);
  });
}

async function main() {
  addEventKindOptions();
  bindControls();
  renderLegend();
  try {
    await maplibreReady();
  } catch (error) {
    say(error.message, true);
    return;
  }
  // Signed in before the map asks for anything (MapLibre fetches the base layers itself).
  try {
    await startSession();
  } catch (error) {
    say(error.message, true);
  }
  const map = new maplibregl.Map({
    container: 'map', style: BASE_STYLE, center: [110, 5], zoom: 3,
    attributionControl: { compact: true, customAttribution: 'Land: Natural Earth' },
    maxPitch: 0, dragRotate: false,
  });
  state.map = map;
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'nautical' }), 'bottom-right');
  map.on('error', (e) => { if (e && e.error) say(`map: ${e.error.message || e.error}`, true); });
  await new Promise((resolve) => map.on('load', resolve));
  addLayers(map);
  bindMapInteractions(map);
  state.ready = true;

  const results = await Promise.allSettled([loadVessels(), loadEvents(), loadAlerts()]);
  for (const r of results) if (r.status === 'rejected') say(r.reason.message, true);
  fitToVessels();
  connectStream();
}

/** Frame the vessels on first load (the bounding box of every position). */
function fitToVessels() {
  if (!state.vessels.size) return;
  let [w, s, e, n] = [180, 90, -180, -90];
  for (const f of state.vessels.values()) {
    const [x, y] = f.geometry.coordinates;
    w = Math.min(w, x); e = Math.max(e, x); s = Math.min(s, y); n = Math.max(n, y);
  }
  if (w <= e) state.map.fitBounds([[w, s], [e, n]], { padding: 40, maxZoom: 10, duration: 0 });
}

// Debug and test handle: read-only views of the state plus a few actions.
window.seasight = {
  state,
  get map() { return state.map; },
  get ready() { return state.ready; },
  get vesselsLoaded() { return state.vesselsLoaded; },
  get vesselCount() { return state.vesselCount; },
  get vesselsDrawnAt() { return state.vesselsDrawnAt; },
  get selected() { return state.selected; },
  get trackPoints() { return state.trackPoints; },
  get eventCount() { return state.events.length; },
  get alertCount() { return state.alerts.length; },
  get streamState() { return state.stream.state; },
  get streamMessages() { return state.stream.messages; },
  get user() { return state.auth.user; },
  get authRequired() { return state.auth.required; },
  get lastSearch() { return state.lastSearch; },
  get errors() { return [...state.errors]; },
  // The legend's sources, for the tests: ship type colours, base map layer ids, and the
  // style layers no legend entry stands for (should be none).
  shipTypePalette: { ...SHIP_TYPE_PALETTE },
  baseMapLayers: [...BASE_MAP_LAYERS],
  layersWithoutLegend: () => layersWithoutLegend(),
  search,
  selectVessel,
  mergePositions,
  setReplayTime,
  setColourBy,
  signIn,
  signOut,
};

main();
