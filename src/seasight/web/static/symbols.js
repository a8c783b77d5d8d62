// SeaSight web map: what the map draws and how, shared by the layers and the legend.
//
// Plain ES module, no bundler (imported by app.js). Event kinds and their ring colours, ship
// type categories and their palette, risk colour stops, the base style with no external
// resources, the vessel arrow and ring images, the paint of each symbol (SYMBOLS), and the
// legend swatches drawn in the shape the map draws them. Nothing here touches the page's
// state; the SWATCH_SCALE of the legend follows SYMBOLS.selected.

export const EVENT_KINDS = ['gap', 'encounter', 'loitering', 'port_visit', 'zone_entry', 'zone_exit',
  'spoofing', 'identity_change'];
export const KIND_COLOURS = {
  gap: '#ff5a5f', encounter: '#ff9f1c', loitering: '#ffd166', port_visit: '#3ecf8e',
  zone_entry: '#b388ff', zone_exit: '#7e57c2', spoofing: '#ff4081', identity_change: '#4dd0e1',
};

// Ship type categories from the AIS ship type code (ITU-R M.1371 table 53):
// [first code of the range, category]; used by a `step` expression and by the legend.
export const TYPE_STEPS = [
  [0, 'other / unknown'],
  [30, 'fishing'],
  [31, 'towing'],
  [33, 'other / unknown'],
  [35, 'military'],
  [36, 'sailing / pleasure'],
  [38, 'other / unknown'],
  [40, 'high speed craft'],
  [50, 'pilot, SAR, tug, law'],
  [60, 'passenger'],
  [70, 'cargo'],
  [80, 'tanker'],
  [90, 'other / unknown'],
];
// One colour per category, chosen so that every pair stays apart (CIEDE2000 >= 19 for normal
// vision, >= 12 under simulated protanopia and deuteranopia, >= 15 under tritanopia; the
// static test recomputes this from the text below) and each is bright enough on the dark sea.
export const SHIP_TYPE_PALETTE = {
  'other / unknown': '#9ca8b4',
  fishing: '#fc9c00',
  towing: '#907878',
  military: '#6c8448',
  'sailing / pleasure': '#e418b4',
  'high speed craft': '#c0b484',
  'pilot, SAR, tug, law': '#48fcf0',
  passenger: '#2a86ff',
  cargo: '#c0f084',
  tanker: '#fc0018',
};
export const RISK_STOPS = [[0, '#3ecf8e'], [30, '#ffd166'], [60, '#ff9f1c'], [85, '#ff3b30']];

/** A style with no external resources: a sea-coloured background; everything else is added
 * as GeoJSON sources once the map has loaded. No `glyphs`, no `sprite`. */
export const BASE_STYLE = {
  version: 8,
  sources: {},
  layers: [{ id: 'sea', type: 'background', paint: { 'background-color': '#0b2740' } }],
};

/** An arrow pointing north, drawn on a canvas; added as an SDF image so `icon-color` can
 * colour each vessel and `icon-rotate` can turn it to the heading. */
export function arrowImage(size = 32) {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = size;
  const ctx = canvas.getContext('2d');
  const s = size;
  ctx.fillStyle = '#ffffff';
  ctx.beginPath();
  ctx.moveTo(s * 0.5, s * 0.06); // bow
  ctx.lineTo(s * 0.82, s * 0.9);
  ctx.lineTo(s * 0.5, s * 0.72); // notch at the stern
  ctx.lineTo(s * 0.18, s * 0.9);
  ctx.closePath();
  ctx.fill();
  return ctx.getImageData(0, 0, s, s);
}

/** A small ring used for vessels that do not report a course (drawn unrotated). */
export function ringImage(size = 20) {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = size;
  const ctx = canvas.getContext('2d');
  ctx.strokeStyle = '#ffffff';
  ctx.lineWidth = size * 0.18;
  ctx.beginPath();
  ctx.arc(size / 2, size / 2, size * 0.32, 0, Math.PI * 2);
  ctx.stroke();
  return ctx.getImageData(0, 0, size, size);
}

// Rotation: the true heading when valid (0-359; 511 = not available), else course over ground.
export const HEADING = ['coalesce', ['get', 'heading'], 511];
export const COG = ['coalesce', ['get', 'cog'], 360];
export const HAS_DIRECTION = ['any', ['<', HEADING, 360], ['<', COG, 360]];
export const ROTATION = ['case', ['<', HEADING, 360], HEADING, ['<', COG, 360], COG, 0];

export const typeColourOf = (label) => SHIP_TYPE_PALETTE[label];
export const NOT_SCORED = '#7f8c9a'; // vessels never scored stay neutral

export function typeColour() {
  const expr = ['step', ['to-number', ['get', 'ship_type'], 0], typeColourOf(TYPE_STEPS[0][1])];
  for (const [code, label] of TYPE_STEPS.slice(1)) expr.push(code, typeColourOf(label));
  return expr;
}

export function riskColour() {
  const expr = ['interpolate', ['linear'], ['to-number', ['get', 'risk'], 0]];
  for (const [v, c] of RISK_STOPS) expr.push(v, c);
  return ['case', ['==', ['get', 'risk'], null], NOT_SCORED, expr];
}

export const SYMBOLS = {
  land: { colour: '#26323d', outline: '#3b4b5a' },
  lane: { shape: 'line', colour: '#2f6690', width: 1, dash: [3, 2], opacity: 0.7 },
  zone: { shape: 'area', colour: '#b388ff', fillOpacity: 0.08, width: 1.5, dash: [2, 2] },
  port: { shape: 'dot', colour: '#3ecf8e', opacity: 0.7, radius: 4 },
  eventRing: { shape: 'ring', radius: 6, width: 2 }, // coloured by kind (KIND_COLOURS)
  track: { shape: 'line', colour: '#4fb3ff', width: 2, opacity: 0.9 },
  listed: { shape: 'ring', colour: '#ff3b30', radius: 9, width: 1.5, around: true },
  selected: { shape: 'ring', colour: '#ffffff', radius: 13, width: 2, around: true },
  vessel: { shape: 'arrow', halo: '#000000', haloWidth: 0.5 },
  vesselNoCourse: { shape: 'ring-glyph' }, // the ring image, for vessels reporting no direction
};

export const linePaint = (s) => ({ 'line-color': s.colour, 'line-width': s.width,
  ...(s.dash ? { 'line-dasharray': s.dash } : {}), 'line-opacity': s.opacity ?? 1 });
export const ringPaint = (s, colour = s.colour) => ({ 'circle-radius': s.radius,
  'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-width': s.width, 'circle-stroke-color': colour });

export const kindLabel = (kind) => kind.replace('_', ' ');

export const SWATCH = 20; // px, the legend swatch's box
export const SWATCH_SCALE = (SWATCH / 2 - 0.5) / SYMBOLS.selected.radius; // the largest ring fits

/** The arrow of `arrowImage` as an SVG polygon, `height` px tall, centred in the swatch. */
export function arrowSvg(colour, height, halo = SYMBOLS.vessel) {
  const c = SWATCH / 2;
  const pts = [[0.5, 0.06], [0.82, 0.9], [0.5, 0.72], [0.18, 0.9]]
    .map(([x, y]) => `${(c + (x - 0.5) * height).toFixed(2)},${(c + (y - 0.48) * height).toFixed(2)}`).join(' ');
  return `<polygon points="${pts}" fill="${colour}" stroke="${halo.halo}" stroke-width="${halo.haloWidth}"/>`;
}

/** An inline SVG swatch of a legend entry, drawn in the shape the map draws. */
export function swatchSvg(s) {
  const c = SWATCH / 2;
  const arrowHeight = 16 * SWATCH_SCALE * 1.1; // the arrow image is 16 px at icon-size 1
  let body = '';
  switch (s.shape) {
    case 'arrow':
      body = arrowSvg(s.colour, arrowHeight);
      break;
    case 'ring-glyph': // ringImage(): a ring 0.64 of the 10 px icon, line 0.18 of it
      body = `<circle cx="${c}" cy="${c}" r="${(3.2 * 1.1).toFixed(2)}" fill="none" stroke="${s.colour}" stroke-width="2"/>`;
      break;
    case 'ring':
      body = (s.around ? arrowSvg(typeColourOf('other / unknown'), arrowHeight) : '')
        + `<circle cx="${c}" cy="${c}" r="${(s.radius * SWATCH_SCALE).toFixed(2)}" fill="none"`
        + ` stroke="${s.colour}" stroke-width="${s.width}"/>`;
      break;
    case 'dot':
      body = `<circle cx="${c}" cy="${c}" r="${s.radius}" fill="${s.colour}" fill-opacity="${s.opacity ?? 1}"/>`;
      break;
    case 'line':
      body = `<line x1="1" y1="${c}" x2="${SWATCH - 1}" y2="${c}" stroke="${s.colour}"`
        + ` stroke-width="${s.width}" stroke-opacity="${s.opacity ?? 1}"`
        + `${s.dash ? ` stroke-dasharray="${s.dash.map((d) => d * s.width).join(' ')}"` : ''}/>`;
      break;
    case 'area':
      body = `<rect x="2" y="4" width="${SWATCH - 4}" height="${SWATCH - 8}" fill="${s.colour}"`
        + ` fill-opacity="${Math.max(s.fillOpacity, 0.2)}" stroke="${s.colour}" stroke-width="${s.width}"`
        + ` stroke-dasharray="${s.dash.map((d) => d * s.width).join(' ')}"/>`;
      break;
    default:
      throw new Error(`legend swatch of unknown shape ${s.shape}`);
  }
  return `<svg class="swatch" width="${SWATCH}" height="${SWATCH}" viewBox="0 0 ${SWATCH} ${SWATCH}"`
    + ` aria-hidden="true" data-shape="${s.shape}">${body}</svg>`;
}
