/**
 * The fenced code blocks of README.md and docs/*.md, what runs each one, and the hidden code around
 * them. The conventions are described at the top of code-blocks.test.ts.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** How a block runs: in Node (on Node 22 too), in Chromium, in workerd, in bash, as a transcript, or not at all. */
export type BlockKind = 'node' | 'node22' | 'browser' | 'html' | 'workerd' | 'sh' | 'transcript' | 'no-run';

/** One fenced block, with the hidden code before and after it. */
export interface CodeBlock {
  /** `docs/api.md:10`: the file and the line of the opening fence. */
  readonly where: string;
  readonly file: string;
  readonly line: number;
  /** The info string's first word (`ts`, `sh`…). */
  readonly lang: string;
  /** The rest of the info string (`node22`, `no-run: <reason>`…). */
  readonly flags: string;
  /** The block's text, its indentation removed. */
  readonly code: string;
  /** The `<!-- before … -->` comment's code, or ''. */
  readonly before: string;
  /** The `<!-- after … -->` comment's code, or ''. */
  readonly after: string;
}

/** A block and how it runs, or why it is refused. */
export type Classified = { block: CodeBlock; kind: BlockKind; reason?: string } | { block: CodeBlock; error: string };

/** The `// → value` comments of a block: the value a `console.log` on that line prints. */
export interface Claim {
  /** Its index among the block's claims (what `__claim` reports). */
  readonly index: number;
  /** The claimed value as written, `…` marking what is left out. */
  readonly text: string;
}

/** README.md and every docs/*.md, relative to `root`. */
export function docFiles(root: string): string[] {
  return ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
}

const FENCE = /^( *)(`{3,}|~{3,})(.*)$/;

/**
 * The blocks of one markdown file. Throws on an unclosed fence and on a `<!-- before`/`<!-- after`
 * comment that is attached to no block (hidden code that would never run).
 */
export function parseBlocks(file: string, text: string): CodeBlock[] {
  const lines = text.split('\n');
  const blocks: CodeBlock[] = [];
  const usedComments = new Set<number>();
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    const [, indent = '', fence = '', info = ''] = open;
    const close = lines.findIndex((l, j) => j > i && new RegExp(`^ {0,${indent.length + 3}}${fence[0]}{${fence.length},}\\s*$`).test(l));
    if (close < 0) throw new Error(`${file}:${i + 1}: the code block is never closed`);
    const dedent = (l: string): string => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart());
    const [lang = '', ...rest] = info.trim().split(/\s+/);
    // The comment must touch the fence: `-->` on the line above it, `<!-- after` on the line below.
    let before = '';
    if (lines[i - 1]?.trim() === '-->') {
      const start = lines.slice(0, i - 1).findLastIndex((l) => l.trim().startsWith('<!--'));
      if (start >= 0 && lines[start]!.trim() === '<!-- before') {
        before = lines.slice(start + 1, i - 1).map(dedent).join('\n');
        usedComments.add(start);
      }
    }
    let after = '';
    if (lines[close + 1]?.trim() === '<!-- after') {
      const end = lines.findIndex((l, j) => j > close + 1 && l.trim() === '-->');
      if (end < 0) throw new Error(`${file}:${close + 2}: the after comment is never closed`);
      after = lines.slice(close + 2, end).map(dedent).join('\n');
      usedComments.add(close + 1);
    }
    blocks.push({ where: `${file}:${i + 1}`, file, line: i + 1, lang, flags: rest.join(' '), code: lines.slice(i + 1, close).map(dedent).join('\n'), before, after });
    i = close;
  }
  lines.forEach((l, i) => {
    if (/^\s*<!-- (before|after)\s*$/.test(l) && !usedComments.has(i)) throw new Error(`${file}:${i + 1}: a hidden "${l.trim()}" comment that touches no code block: it would never run`);
  });
  return blocks;
}

/** Every block of README.md and docs/*.md under `root`. */
export function collectBlocks(root: string): CodeBlock[] {
  return docFiles(root).flatMap((file) => parseBlocks(file, readFileSync(join(root, file), 'utf8')));
}

/** What runs `block`, from its language and flags; an error for a block that would be neither run nor marked. */
export function classify(block: CodeBlock): Classified {
  const { lang, flags } = block;
  const marker = /^no-run(?::\s*(.*))?$/.exec(flags);
  if (marker) {
    const reason = marker[1]?.trim();
    if (!reason) return { block, error: 'a no-run block must say why it cannot run: ```<lang> no-run: <reason>' };
    if (block.before || block.after) return { block, error: 'a no-run block has hidden code that would never run' };
    return { block, kind: 'no-run', reason };
  }
  const claims = block.code.includes('// →');
  const script = lang === 'ts' || lang === 'js';
  let kind: BlockKind | undefined;
  if (script && flags === '') kind = 'node';
  else if (script && flags === 'node22') kind = 'node22';
  else if (script && flags === 'browser') kind = 'browser';
  else if (script && flags === 'workerd') kind = 'workerd';
  else if (lang === 'html' && flags === '') kind = 'html';
  else if ((lang === 'sh' || lang === 'bash') && flags === '') kind = 'sh';
  else if (lang === 'text' && flags === '' && block.code.startsWith('$ ')) kind = 'transcript';
  if (!kind) return { block, error: `\`\`\`${[lang, flags].filter(Boolean).join(' ')} is neither run by this test nor marked \`no-run: <reason>\`` };
  if (claims && kind !== 'node' && kind !== 'node22') return { block, error: 'a `// →` claim is only checked in a Node block; say it another way here' };
  if (claims) {
    const unchecked = block.code.split('\n').filter((l) => l.includes('// →') && !/console\.log\(.*\);\s*\/\/ → .+$/.test(l));
    if (unchecked.length > 0) return { block, error: `a \`// →\` claim must end a \`console.log(…);\` line, where it is checked: ${unchecked.join(' | ')}` };
  }
  return { block, kind };
}

/** The claims of a Node block, in order. */
export function claimsOf(code: string): Claim[] {
  return code
    .split('\n')
    .map((l) => /console\.log\(.*\);\s*\/\/ → (.+)$/.exec(l)?.[1])
    .filter((t): t is string => t !== undefined)
    .map((text, index) => ({ index, text: text.trim() }));
}

/**
 * A Node block's program: the hidden code before, the block, the hidden code after (ES module
 * imports may stand anywhere at the top level), and each claimed `console.log(x)` turned into
 * `__claim(n, x)`, which prints `x` too and records it in the file `$DOC_CLAIMS`.
 */
export function nodeProgram(block: CodeBlock): string {
  let n = 0;
  const code = block.code
    .split('\n')
    .map((l) => (/console\.log\(.*\);\s*\/\/ → .+$/.test(l) ? l.replace('console.log(', `__claim(${n++}, `) : l))
    .join('\n');
  const claim = n === 0 ? '' : `
function __claim(n, value) {
  console.log(value);
  process.getBuiltinModule('node:fs').appendFileSync(process.env.DOC_CLAIMS, JSON.stringify({ n, value }) + '\\n');
}`;
  return [block.before, code, block.after, claim].filter(Boolean).join('\n') + '\n';
}

/**
 * The value a claim stands for: its text as a JavaScript expression, with every `…` (what the
 * example leaves out) removed. Objects and arrays are compared as vitest's `toMatchObject` does.
 */
export function claimedValue(text: string): unknown {
  const source = text.replace(/,?\s*…\s*/g, ' ');
  return new Function(`return (${source});`)() as unknown;
}

/** `import` declarations (hoisted to the top of a wrapper) and the statements that remain. */
export function splitImports(code: string): { imports: string; body: string } {
  const imports: string[] = [];
  const body = code.replace(/^[ \t]*import\s(?:[^;'"]*?\sfrom\s*)?['"][^'"]+['"];?[ \t]*(?:\/\/.*)?$/gm, (statement) => {
    imports.push(statement.trim());
    return '';
  });
  return { imports: imports.join('\n'), body };
}

/**
 * A transcript's command (the `$ ` line) and the lines it prints, each as a pattern: the text as
 * written, with every number standing for any number (counts, ports and times change).
 */
export function transcript(code: string): { command: string; expected: RegExp[] } {
  const [first = '', ...rest] = code.split('\n').filter((l) => l.trim() !== '');
  const expected = rest.map((line) => {
    if (line.startsWith('$ ')) throw new Error('a transcript runs one command');
    return new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\d+/g, '\\d+')}$`);
  });
  return { command: first.slice(2).trim(), expected };
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of a markdown file's headings (outside code blocks). */
export function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>();
  let inFence = false;
  for (const line of text.split('\n')) {
    if (FENCE.test(line)) inFence = !inFence;
    const heading = !inFence && /^#{1,6}\s+(.*)$/.exec(line);
    if (heading) anchors.add(headingAnchor(heading[1]!));
  }
  return anchors;
}
