/**
 * The only way the dashboard builds DOM. Database values reach the page as text nodes and as the
 * values of a few inert attributes, never as markup: there is no innerHTML anywhere, so a task
 * whose params hold `<img onerror=…>` shows those characters and runs nothing.
 */

/** What may be a child: nodes as they are, strings and numbers as text; nothing else renders. */
export type Child = Node | string | number | null | undefined | false;

/** Attribute values; `undefined` and `false` leave the attribute out, `true` sets it empty. */
export type Attrs = Readonly<Record<string, string | number | boolean | undefined>>;

// Attributes that load, navigate or run something. Dashboard code never sets them from data, and
// refusing them here keeps a later edit from doing so by accident.
const UNSAFE_ATTRIBUTE = /^(on|style$|href$|src$|srcdoc$|action$|formaction$|xlink:href$)/i;

function setAttrs(node: Element, attrs: Attrs): void {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (UNSAFE_ATTRIBUTE.test(name)) throw new Error(`dashboard/dom: refusing to set attribute "${name}"`);
    node.setAttribute(name, value === true ? '' : String(value));
  }
}

function append(node: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

/**
 * Creates an HTML element with attributes and children (strings become text nodes).
 * @example el('td', { class: 'num' }, task.id)
 */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * Creates an SVG element in the SVG namespace, with attributes and children.
 * @example svg('rect', { x: 0, y: 0, width: 10, height: 20, class: 's-completed' })
 */
export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag);
  setAttrs(node, attrs);
  append(node, children);
  return node;
}

/** The element with `id`, which the page is known to have; throws when it does not. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`dashboard: the page has no #${id}`);
  return node as T;
}

/** Replaces `node`'s text (one text node). */
export function setText(node: Element, text: string | number): void {
  node.textContent = String(text);
}
