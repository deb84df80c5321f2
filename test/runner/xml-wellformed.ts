// A small XML well-formedness checker for the tests: declaration, elements properly nested and
// closed, attributes quoted and unique, only the five predefined entities (and numeric
// references), no stray '<' or '&', exactly one root element. Returns the element names in order.
export function checkWellFormedXml(xml: string): string[] {
  let i = 0;
  const stack: string[] = [];
  const names: string[] = [];
  let roots = 0;
  const fail = (why: string): never => {
    throw new Error(`not well-formed at offset ${i}: ${why} (…${xml.slice(Math.max(0, i - 40), i + 40)}…)`);
  };
  const NAME = /^[A-Za-z_:][-A-Za-z0-9_:.]*/;
  const checkText = (text: string): void => {
    if (text.includes('<')) fail('"<" in text');
    for (const m of text.matchAll(/&([^;]*);?/g)) {
      if (!m[0].endsWith(';') || !/^(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+)$/.test(m[1]!)) fail(`bad entity ${m[0]}`);
    }
  };
  if (xml.startsWith('<?xml')) {
    const end = xml.indexOf('?>');
    if (end < 0) fail('unterminated declaration');
    i = end + 2;
  }
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = lt < 0 ? xml.slice(i) : xml.slice(i, lt);
    if (stack.length === 0 && text.trim() !== '') fail('text outside the root element');
    checkText(text);
    if (lt < 0) break;
    i = lt;
    if (xml.startsWith('<!--', i)) {
      const end = xml.indexOf('-->', i);
      if (end < 0) fail('unterminated comment');
      i = end + 3;
      continue;
    }
    if (xml.startsWith('<![CDATA[', i)) {
      const end = xml.indexOf(']]>', i);
      if (end < 0) fail('unterminated CDATA');
      i = end + 3;
      continue;
    }
    const gt = xml.indexOf('>', i);
    if (gt < 0) fail('unterminated tag');
    const tag = xml.slice(i + 1, gt);
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trim();
      const open = stack.pop();
      if (open !== name) fail(`</${name}> closes <${open ?? 'nothing'}>`);
    } else {
      const selfClosing = tag.endsWith('/');
      const body = selfClosing ? tag.slice(0, -1) : tag;
      const m = NAME.exec(body);
      if (!m) fail('bad element name');
      const name = m![0];
      let rest = body.slice(name.length);
      const seen = new Set<string>();
      const ATTR = /^\s+([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*("([^"]*)"|'([^']*)')/;
      for (;;) {
        const a = ATTR.exec(rest);
        if (!a) break;
        if (seen.has(a[1]!)) fail(`duplicate attribute ${a[1]}`);
        seen.add(a[1]!);
        checkText(a[3] ?? a[4] ?? '');
        rest = rest.slice(a[0].length);
      }
      if (rest.trim() !== '') fail(`junk in tag <${name}: "${rest.trim().slice(0, 30)}"`);
      if (stack.length === 0) roots++;
      if (roots > 1) fail('more than one root element');
      names.push(name);
      if (!selfClosing) stack.push(name);
    }
    i = gt + 1;
  }
  if (stack.length) fail(`unclosed <${stack.join('> <')}>`);
  if (roots !== 1) fail('no root element');
  return names;
}
