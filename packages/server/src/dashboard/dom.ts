type Attributes = Record<string, string | number | boolean | undefined>;

/**
 * Makes an element with attributes and children. Text always goes in as text nodes: subjects, ids and
 * reasons come from the server and must never be parsed as HTML.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  element.append(...children);
  return element;
}

/** The element with this id, of the expected kind; a missing one is a bug in the page, said clearly. */
export function byId<T extends HTMLElement>(id: string, kind: { new (): T }): T {
  const element = document.getElementById(id);
  if (!(element instanceof kind)) throw new Error(`dashboard: #${id} is missing or not a ${kind.name}`);
  return element;
}
