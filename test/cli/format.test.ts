/** The command's formatting helpers: terminal-safe text, durations and times, the progress bar. */
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../cli/errors.js';
import { Progress, displayWidth, parseDuration, parseTime, safeText, table, truncateToWidth } from '../../cli/format.js';

function fakeStream(isTTY: boolean): NodeJS.WriteStream & { written: string } {
  const stream = { isTTY, columns: 100, written: '', write(chunk: string) { stream.written += chunk; return true; } };
  return stream as unknown as NodeJS.WriteStream & { written: string };
}

describe('safeText', () => {
  it('escapes control characters, keeps everything else', () => {
    expect(safeText('a\u001b[31mred\u0007\r\n\t\u009b\u2028z')).toBe('a\\x1b[31mred\\x07\\x0d\\n\\t\\x9b\\x2028z');
    expect(safeText('naïve 日本 <b>')).toBe('naïve 日本 <b>');
    expect(safeText({ a: 1 })).toBe('{"a":1}');
    expect(safeText(undefined)).toBe('');
  });

  it('tables escape and truncate every cell', () => {
    const text = table([{ v: 'x\u001by'.repeat(30) }], [{ title: 'v', value: (r) => r.v, max: 10 }]);
    expect(text).not.toContain('\u001b');
    expect(text.split('\n')[1]).toBe('x\\x1byx\\x…');
  });
});

describe('tables by display width', () => {
  // Widths counted by hand: a CJK character or an emoji (a ZWJ family, a flag) takes two terminal
  // columns, a combining accent none (their widths: 6, 3, 5, 2; '.length' says 3, 5, 11, 4).
  const rows = [
    { name: '日本語', n: 1, note: 'cjk' },
    { name: 'e\u0301te\u0301', n: 22, note: 'combining' },
    { name: '👩‍👩‍👧 ok', n: 3, note: 'emoji' },
    { name: '🇯🇵', n: 4, note: 'flag' },
    { name: 'plain', n: 5, note: 'ascii' },
  ];
  const columns = [
    { title: 'name', value: (r: (typeof rows)[number]) => r.name },
    { title: 'n', value: (r: (typeof rows)[number]) => r.n },
    { title: 'note', value: (r: (typeof rows)[number]) => r.note },
  ];

  it('measures CJK, emoji and combining characters as the terminal shows them', () => {
    expect(rows.map((r) => displayWidth(r.name))).toEqual([6, 3, 5, 2, 5]);
  });

  it('lines the columns up by display width', () => {
    expect(table(rows, columns).split('\n')).toEqual([
      'NAME    N   NOTE',
      '日本語  1   cjk',
      'e\u0301te\u0301     22  combining',
      '👩‍👩‍👧 ok   3   emoji',
      '🇯🇵      4   flag',
      'plain   5   ascii',
    ]);
    // Every line's second column starts at the same display column.
    for (const line of table(rows, columns).split('\n').slice(1)) {
      const [name, n] = line.split(/ {2,}/);
      expect(displayWidth(line.slice(0, line.indexOf(`  ${n as string}`) + 2)), line).toBe(8);
      expect(displayWidth(name as string)).toBeLessThanOrEqual(6);
    }
  });

  it('cuts by display width, never inside a grapheme, and the cut value still lines up', () => {
    expect(truncateToWidth('日本語日本語', 5)).toBe('日本…');
    expect(truncateToWidth('ab👩‍👩‍👧cd', 4)).toBe('ab…');
    expect(truncateToWidth('e\u0301e\u0301e\u0301e\u0301', 3)).toBe('e\u0301e\u0301…');
    expect(truncateToWidth('日本', 4)).toBe('日本');
    const text = table([{ v: '漢字漢字漢字', w: 'x' }, { v: 'ab', w: 'y' }], [
      { title: 'v', value: (r) => r.v, max: 7 },
      { title: 'w', value: (r) => r.w },
    ]);
    expect(text.split('\n')).toEqual(['V        W', '漢字漢…  x', 'ab       y']);
  });

  it('shows titles as given when asked (SQL column names)', () => {
    expect(table([{ a: 1 }], [{ title: 'count(*)', value: (r) => r.a, upper: false }]).split('\n')[0]).toBe('count(*)');
  });
});

describe('durations and times', () => {
  it('parses durations and refuses others with a UsageError', () => {
    expect(parseDuration('90s', '--x')).toBe(90_000);
    expect(parseDuration('36h', '--x')).toBe(36 * 3_600_000);
    expect(parseDuration('2w', '--x')).toBe(14 * 86_400_000);
    expect(parseDuration('250', '--x')).toBe(250);
    for (const bad of ['', '1.5h', '-1d', 'soon', '9999999999999999999d']) expect(() => parseDuration(bad, '--x')).toThrow(UsageError);
  });

  it('parses dates, Unix ms and durations ago', () => {
    const now = Date.UTC(2026, 10, 27, 12);
    expect(parseTime('2026-11-27', '--since', now)).toBe(Date.UTC(2026, 10, 27));
    expect(parseTime('2026-11-27T09:00Z', '--since', now)).toBe(Date.UTC(2026, 10, 27, 9));
    expect(parseTime('1795800000000', '--since', now)).toBe(1795800000000);
    expect(parseTime('24h', '--since', now)).toBe(now - 86_400_000);
    for (const bad of ['yesterday', '2026-13-45', '12']) expect(() => parseTime(bad, '--since', now)).toThrow(UsageError);
  });
});

describe('Progress', () => {
  it('draws a bar on a terminal and ends its line', () => {
    const tty = fakeStream(true);
    const bar = new Progress(tty, 'import', 4);
    for (let i = 0; i < 4; i++) bar.tick();
    bar.finish();
    expect(tty.written).toContain('import [');
    expect(tty.written).toMatch(/100% 4\/4\n$/);
    expect(tty.written.startsWith('\r')).toBe(true);
  });

  it('prints nothing when the stream is not a terminal (a pipe, a file, CI logs)', () => {
    const pipe = fakeStream(false);
    const bar = new Progress(pipe, 'export', 1000);
    for (let i = 0; i < 1000; i++) bar.tick();
    bar.finish();
    expect(pipe.written).toBe('');
  });
});
