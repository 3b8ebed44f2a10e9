import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startLocalRuntime } from '../src/local/runtime.ts';
import { nextFireTime, ScheduleEndedError, startSchedule } from '../src/local/schedules.ts';
import { silentLog } from '../src/ports.ts';
import { startTestRuntime, testConfig } from './support/runtime.ts';

// 2026-11-23 is a Monday.
const at = new Date('2026-11-23T03:07:30Z');

describe('Function: nextFireTime', () => {
  describe('day-of-week, EventBridge-style (1-7 = SUN-SAT)', () => {
    it.each([
      ['cron(0 9 ? * 1 *)', '2026-11-29T09:00:00.000Z'], // Sunday
      ['cron(0 9 ? * 7 *)', '2026-11-28T09:00:00.000Z'], // Saturday
      ['cron(0 9 ? * SUN *)', '2026-11-29T09:00:00.000Z'],
      ['cron(0 9 ? * sat *)', '2026-11-28T09:00:00.000Z'],
      ['cron(0 2 ? * 3-5 *)', '2026-11-24T02:00:00.000Z'], // TUE-THU, today's 02:00 has passed
      ['cron(0 2 ? * TUE-THU *)', '2026-11-24T02:00:00.000Z'],
      ['cron(0 2 ? * 5,7 *)', '2026-11-26T02:00:00.000Z'], // THU or SAT
      ['cron(0 2 ? * MON,WED,FRI *)', '2026-11-25T02:00:00.000Z'],
      ['cron(0 2 ? * FRI-MON *)', '2026-11-27T02:00:00.000Z'], // wraps past Saturday
      ['cron(0 2 ? * */2 *)', '2026-11-24T02:00:00.000Z'], // SUN, TUE, THU, SAT
      ['cron(0 9 ? * 2#1 *)', '2026-12-07T09:00:00.000Z'], // first Monday
      ['cron(0 9 ? * MON#1 *)', '2026-12-07T09:00:00.000Z'],
      ['cron(0 9 ? * 1#1 *)', '2026-12-06T09:00:00.000Z'], // first Sunday
      ['cron(0 9 ? * 6L *)', '2026-11-27T09:00:00.000Z'], // last Friday of November
      ['cron(0 9 ? * 1L *)', '2026-11-29T09:00:00.000Z'], // last Sunday
      ['cron(0 9 ? * L *)', '2026-11-28T09:00:00.000Z'], // L alone: the last day of the week, Saturday
      ['cron(0 9 ? * 6L,2#1 *)', '2026-11-27T09:00:00.000Z'], // either, whichever comes first
      ['cron(0 9 ? * 2#1,4 *)', '2026-11-25T09:00:00.000Z'],
      ['cron(0 9 L * ? *)', '2026-11-30T09:00:00.000Z'], // last day of the month
      ['cron(0 9 1 JAN ? *)', '2027-01-01T09:00:00.000Z'],
    ])('%s fires next at %s', (expression, expected) => {
      expect(nextFireTime(expression, at).toISOString()).toBe(expected);
    });

    it.each(['cron(0 9 ? * 8 *)', 'cron(0 9 ? * 0 *)', 'cron(0 9 ? * FUNDAY *)', 'cron(0 9 ? * 9#1 *)'])(
      'refuses %s, naming the field',
      (expression) => {
        expect(() => nextFireTime(expression, at)).toThrow(/day-of-week/);
      },
    );

    it('refuses W in day-of-month rather than running it on the wrong day', () => {
      expect(() => nextFireTime('cron(0 9 15W * ? *)', at)).toThrow(/W \(nearest weekday\)/);
    });
  });

  describe('year field', () => {
    it.each([
      ['cron(0 3 * * ? 2026)', '2026-11-24T03:00:00.000Z'],
      ['cron(0 3 * * ? 2028)', '2028-01-01T03:00:00.000Z'],
      ['cron(0 0 1 1 ? 2028)', '2028-01-01T00:00:00.000Z'], // midnight on 1 January is not skipped
      ['cron(0 3 * * ? 2027-2029)', '2027-01-01T03:00:00.000Z'],
      ['cron(0 3 * * ? 2025,2030)', '2030-01-01T03:00:00.000Z'],
      ['cron(0 3 * * ? 2024/3)', '2027-01-01T03:00:00.000Z'],
      ['cron(0 9 ? * 2#1 2027)', '2027-01-04T09:00:00.000Z'],
      ['cron(0 9 29 2 ? *)', '2028-02-29T09:00:00.000Z'],
      ['cron(0 9 29 2 ? 2029-2032)', '2032-02-29T09:00:00.000Z'], // 2029-2031 have no 29 February
    ])('%s fires next at %s', (expression, expected) => {
      expect(nextFireTime(expression, at).toISOString()).toBe(expected);
    });

    it('says a schedule whose years are all past has ended', () => {
      expect(() => nextFireTime('cron(0 3 * * ? 2020-2025)', at)).toThrow(ScheduleEndedError);
    });

    it.each(['cron(0 3 * * ? 26)', 'cron(0 3 * * ? 2030-2027)', 'cron(0 3 * * ? 2300)'])(
      'refuses %s, naming the field',
      (expression) => {
        expect(() => nextFireTime(expression, at)).toThrow(/year/);
      },
    );
  });
});

describe('Function: startSchedule', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('stays idle for a schedule that has ended instead of throwing from a timer', () => {
    // GIVEN
    vi.useFakeTimers({ now: at });
    const fire = vi.fn();
    // WHEN
    const timer = startSchedule('cron(0 3 * * ? 2020)', 1, fire);
    vi.advanceTimersByTime(86_400_000 * 3);
    timer.stop();
    // THEN
    expect(fire).not.toHaveBeenCalled();
  });

  it('fires at each occurrence in the years the year field allows', () => {
    // GIVEN a daily 03:00 schedule for 2026 only, started on 2026-12-30
    vi.useFakeTimers({ now: new Date('2026-12-30T00:00:00Z') });
    const fired: string[] = [];
    // WHEN five days pass
    const timer = startSchedule('cron(0 3 * * ? 2026)', 1, (time) => fired.push(time.toISOString()));
    vi.advanceTimersByTime(86_400_000 * 5);
    timer.stop();
    // THEN only the two runs of 2026
    expect(fired).toEqual(['2026-12-30T03:00:00.000Z', '2026-12-31T03:00:00.000Z']);
  });
});

describe('Local runtime schedules', () => {
  it('refuses an unreadable schedule before starting anything, naming the field', async () => {
    // GIVEN a config whose probe schedule names day 8 of the week
    const dataDir = await mkdtemp(join(tmpdir(), 'responder-schedule-'));
    const config = testConfig({ probes: { schedule: 'cron(0 9 ? * 8 *)', targets: [] } });
    try {
      // WHEN / THEN
      await expect(
        startLocalRuntime({ config, log: silentLog, dataDir, port: 0, token: 'x'.repeat(20) }),
      ).rejects.toThrow(/probes\.schedule: .*day-of-week '8'/);
      // nothing holds the data folder: another runtime starts on it
      const next = await startTestRuntime({ dataDir });
      await next.stop();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
