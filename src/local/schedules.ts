import { CronExpressionParser } from 'cron-parser';

/** EventBridge numbers weekdays 1 (Sunday) to 7 (Saturday). */
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] as const;
const FIRST_YEAR = 1970;
const LAST_YEAR = 2199;

/** Thrown for a schedule whose year field has no year left: EventBridge would simply never run it again. */
export class ScheduleEndedError extends Error {}

/** An EventBridge weekday (1-7 or SUN-SAT) as classic cron's 0-6. */
function classicWeekday(value: string, expression: string): number {
  const named = WEEKDAYS.indexOf(value.toUpperCase() as (typeof WEEKDAYS)[number]);
  if (named >= 0) return named;
  const day = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(day >= 1 && day <= 7)) {
    throw new Error(`'${expression}': day-of-week '${value}' is not 1-7 (1 is Sunday) or SUN-SAT`);
  }
  return day - 1;
}

/**
 * The day-of-week field in cron-parser's terms: the plain days as one list (undefined for "any day"),
 * and each `#` or `L` item on its own, since cron-parser refuses those inside a list.
 */
function translateWeekdays(field: string, expression: string): { days?: string; special: string[] } {
  if (field === '*' || field === '?') return { special: [] };
  const days = new Set<number>();
  const special: string[] = [];
  for (const item of field.split(',')) {
    const nth = /^(\w+)#([1-5])$/.exec(item);
    const last = /^(\w*)L$/i.exec(item);
    const stepped = /^([^/]+)(?:\/(\d+))?$/.exec(item);
    if (nth?.[1] && nth[2]) {
      special.push(`${classicWeekday(nth[1], expression)}#${nth[2]}`);
    } else if (last) {
      // `L` alone is the last day of the week, Saturday; `6L` is the month's last Friday.
      if (last[1]) special.push(`${classicWeekday(last[1], expression)}L`);
      else days.add(6);
    } else if (stepped?.[1]) {
      const [from, to] = stepped[1] === '*' ? ['1', '7'] : stepped[1].split('-');
      const step = stepped[2] ? Number(stepped[2]) : 1;
      if (!from || step < 1) throw new Error(`'${expression}': cannot read day-of-week '${item}'`);
      const first = classicWeekday(from, expression);
      const end = to === undefined ? (stepped[2] ? 6 : first) : classicWeekday(to, expression);
      // A range may wrap past Saturday (FRI-MON), as Quartz allows.
      const length = ((end - first + 7) % 7) + 1;
      for (let offset = 0; offset < length; offset += step) days.add((first + offset) % 7);
    } else {
      throw new Error(`'${expression}': cannot read day-of-week '${item}'`);
    }
  }
  return { days: days.size > 0 ? [...days].sort((a, b) => a - b).join(',') : undefined, special };
}

/** Which years the year field allows: `*`, `2027`, `2027-2029`, lists, and `/step`. */
function yearMatcher(field: string, expression: string): (year: number) => boolean {
  if (field === '*' || field === '?') return () => true;
  const parts = field.split(',').map((item) => {
    const match = /^(\*|\d{4})(?:-(\d{4}))?(?:\/(\d+))?$/.exec(item);
    if (!match?.[1]) throw new Error(`'${expression}': cannot read year '${item}'`);
    const from = match[1] === '*' ? FIRST_YEAR : Number(match[1]);
    const to = match[2] ? Number(match[2]) : match[1] === '*' || match[3] ? LAST_YEAR : from;
    const step = match[3] ? Number(match[3]) : 1;
    if (from < FIRST_YEAR || to > LAST_YEAR || from > to || step < 1) {
      throw new Error(`'${expression}': year '${item}' is outside ${FIRST_YEAR}-${LAST_YEAR} or reversed`);
    }
    return (year: number) => year >= from && year <= to && (year - from) % step === 0;
  });
  return (year) => parts.some((matches) => matches(year));
}

/**
 * Next fire time of an EventBridge Scheduler expression, in UTC: `rate(N unit)` or the six-field
 * `cron(min hour day-of-month month day-of-week year)`. Throws ScheduleEndedError when the year
 * field allows no later occurrence.
 */
export function nextFireTime(expression: string, after: Date): Date {
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (rate) {
    const unit = rate[2]?.startsWith('minute')
      ? 60_000
      : rate[2]?.startsWith('hour')
        ? 3_600_000
        : 86_400_000;
    const period = Number(rate[1]) * unit;
    return new Date(Math.floor(after.getTime() / period) * period + period);
  }
  const cron = /^cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)$/.exec(expression);
  if (!cron) throw new Error(`unsupported schedule expression '${expression}'`);
  const [, minute = '', hour = '', dayOfMonth = '', month = '', dayOfWeek = '', year = ''] = cron;
  if (/W/i.test(dayOfMonth)) {
    throw new Error(`'${expression}': the local runtime cannot run W (nearest weekday) in day-of-month`);
  }
  const weekdays = translateWeekdays(dayOfWeek, expression);
  const yearAllowed = yearMatcher(year, expression);
  const dom = dayOfMonth === '?' ? '*' : dayOfMonth;
  const classic =
    weekdays.days === undefined && weekdays.special.length === 0
      ? [`${minute} ${hour} ${dom} ${month} *`]
      : [...(weekdays.days === undefined ? [] : [weekdays.days]), ...weekdays.special].map(
          (days) => `${minute} ${hour} ${dom} ${month} ${days}`,
        );
  const nextOf = (from: Date) =>
    Math.min(
      ...classic.map((line) =>
        CronExpressionParser.parse(line, { currentDate: from, tz: 'UTC' }).next().getTime(),
      ),
    );

  let from = after;
  for (;;) {
    const next = new Date(nextOf(from));
    const nextYear = next.getUTCFullYear();
    if (yearAllowed(nextYear)) return next;
    let wanted = nextYear + 1;
    while (wanted <= LAST_YEAR && !yearAllowed(wanted)) wanted++;
    if (wanted > LAST_YEAR) {
      throw new ScheduleEndedError(`'${expression}' has no occurrence after ${after.toISOString()}`);
    }
    // From the last instant of the year before, so a schedule at midnight on 1 January is not skipped.
    from = new Date(Date.UTC(wanted, 0, 1) - 1);
  }
}

export interface ScheduleTimer {
  stop(): void;
}

/**
 * Fires `fire(scheduledTime)` at each occurrence of the expression until stopped. A `scale` below 1
 * (local.escalationDelayScale) runs a rate that much faster, never more often than once a second.
 */
export function startSchedule(
  expression: string,
  scale: number,
  fire: (scheduledTime: Date) => void,
): ScheduleTimer {
  const idle = { stop() {} };
  if (scale < 1) {
    try {
      return startScaledRate(expression, scale, fire);
    } catch (error) {
      if (error instanceof ScheduleEndedError) return idle;
      throw error;
    }
  }
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const arm = () => {
    let next: Date;
    try {
      next = nextFireTime(expression, new Date());
    } catch (error) {
      // A schedule past its last year stays idle, as EventBridge leaves it; a bad expression throws at start.
      if (error instanceof ScheduleEndedError) return;
      throw error;
    }
    // setTimeout holds at most ~24.8 days; a longer wait re-arms on the way.
    const wait = Math.min(next.getTime() - Date.now(), 2 ** 31 - 1);
    timer = setTimeout(
      () => {
        if (stopped) return;
        if (Date.now() >= next.getTime()) fire(next);
        arm();
      },
      Math.max(wait, 0),
    );
    timer.unref();
  };
  arm();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

function startScaledRate(
  expression: string,
  scale: number,
  fire: (scheduledTime: Date) => void,
): ScheduleTimer {
  const now = new Date();
  const period = Math.max(
    1000,
    Math.round(
      (nextFireTime(expression, nextFireTime(expression, now)).getTime() -
        nextFireTime(expression, now).getTime()) *
        scale,
    ),
  );
  const timer = setInterval(() => fire(new Date(Math.floor(Date.now() / period) * period)), period);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
