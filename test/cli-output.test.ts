import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.ts';
import { consoleLog } from '../src/local/console-log.ts';
import { printable, printableJson } from '../src/local/terminal-text.ts';

/** Alert text crafted to act on a terminal: an OSC 8 hyperlink, a colour, a carriage return, RLO. */
const EVIL =
  'Disk full \u001b]8;;http://evil\u0007click\u001b]8;;\u0007 \u001b[31mRED\r\u202eevil\u009b2J\u2066x\u2069';
/** Anything a terminal would act on; tables and plain lines may hold newlines between rows only. */
const RAW_CONTROL =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for control characters
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

const incident = {
  id: `20261123-0a1b2c3d${EVIL}`,
  status: 'open',
  severity: 'P1',
  title: EVIL,
  openedAt: '2026-11-23T03:02:11.512Z',
  alerts: { firing: 1 },
  labels: { alertname: EVIL },
};

/** A stand-in responder that answers every CLI call with the crafted text. */
function fakeResponder(): Server {
  return createServer((req, res) => {
    const json = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    req.resume();
    req.on('end', () => {
      if (req.url?.startsWith('/api/incidents?') || req.url === '/api/incidents')
        return json(200, { incidents: [incident] });
      if (req.url === '/api/probes')
        return json(200, {
          results: [{ target: EVIL, kind: 'http', ok: false, healthy: false, latencyMs: 3, detail: EVIL }],
        });
      if (req.url?.endsWith('/ack'))
        return json(200, {
          outcome: req.url.includes('again') ? 'already-acknowledged' : 'acknowledged',
          acknowledged: { by: EVIL, at: EVIL },
          escalation: { sent: [{ event: 'page', tier: EVIL, topic: 'on-call' }] },
        });
      if (req.url === '/alertmanager') return json(202, { incident });
      if (req.url === '/api/automation') return json(200, { reason: EVIL });
      return res.writeHead(500).end(EVIL);
    });
  });
}

describe('CLI output of server-provided text', () => {
  let server: Server;
  const saved = { ...process.env };
  let out: string[];
  beforeAll(async () => {
    server = fakeResponder();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    process.env.RESPONDER_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    process.env.RESPONDER_WEBHOOK_TOKEN = 'cli-output-token-0123456789';
  });
  afterAll(async () => {
    process.env = saved;
    await new Promise((resolve) => server.close(resolve));
  });
  const capture = () => {
    out = [];
    const keep = (...parts: unknown[]) => {
      out.push(parts.map(String).join(' '));
    };
    vi.spyOn(console, 'log').mockImplementation(keep);
    vi.spyOn(console, 'error').mockImplementation(keep);
  };
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it.each([
    [['incidents']],
    [['incidents', '--status', 'open']],
    [['probe']],
    [['ack', 'any-id', '--by', 'alice']],
    [['ack', 'again', '--by', 'alice']],
    [['automation']],
    [['send', 'events/firing.json']],
  ])('responder %s prints no control or bidi characters, and shows them escaped', async (args) => {
    // GIVEN
    capture();
    // WHEN
    await main(args);
    // THEN
    const text = out.join('\n');
    expect(text).not.toMatch(RAW_CONTROL);
    expect(text).toMatch(/\\x1b|\\u001b/);
    expect(text).toMatch(/\\u202e/);
  });

  it('keeps each incident on one table row', async () => {
    capture();
    await main(['incidents']);
    const rows = out.join('\n').split('\n');
    expect(rows).toHaveLength(2);
    expect(rows[1]).toContain('Disk full \\x1b]8;;http://evil\\x07click');
    expect(rows[1]).toContain('\\x1b[31mRED\\x0d\\u202eevil\\x9b2J');
  });

  it('--json output is still JSON that parses back to what the server sent', async () => {
    capture();
    await main(['incidents', '--json']);
    const text = out.join('\n');
    expect(text).not.toMatch(RAW_CONTROL);
    expect(JSON.parse(text)).toEqual([incident]);
  });
});

describe('Function: printable', () => {
  it.each([
    ['ESC', '\u001b[31m', '\\x1b[31m'],
    ['CR, LF and tab', 'a\rb\nc\td', 'a\\x0db\\x0ac\\x09d'],
    ['8-bit CSI', '\u009b', '\\x9b'],
    ['bidi override and pop', '\u202eabc\u202c', '\\u202eabc\\u202c'],
    ['other non-ASCII', 'ümlaut and 日本', 'ümlaut and 日本'],
  ])('shows %s escaped', (_name, input, expected) => {
    expect(printable(input)).toBe(expected);
  });

  it('printableJson escapes only inside strings, so the value is unchanged', () => {
    const value = { title: EVIL, nested: [EVIL, 1, null] };
    const json = printableJson(value, 2);
    expect(json).not.toMatch(RAW_CONTROL);
    expect(JSON.parse(json)).toEqual(value);
  });
});

describe('Local runtime console log', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('prints alert text in log lines escaped', () => {
    const lines: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((line: unknown) => {
      lines.push(String(line));
    });
    consoleLog('info').warn(`PAGE → on-call: ${EVIL}`, { subject: EVIL });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toMatch(RAW_CONTROL);
    expect(lines[0]).toContain('\\x1b]8;;http://evil');
  });
});
