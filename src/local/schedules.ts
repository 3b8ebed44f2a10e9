import { CronExpressionParser } from 'cron-parser';

/**
 * Next fire time of an EventBridge Scheduler expression, in UTC: `rate(N unit)` or the six-field
 * `cron(min hour day-of-month month day-of-week year)`.
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
  const [, minute, hour, dayOfMonth, month, dayOfWeek] = cron;
  // EventBridge numbers weekdays 1-7 from Sunday; classic cron numbers them 0-6.
  const weekday = (dayOfWeek ?? '*').replace(/\d/g, (d) => String(Number(d) - 1));
  const classic = [minute, hour, dayOfMonth, month, weekday]
    .map((field) => (field === '?' ? '*' : field))
    .join(' ');
  return CronExpressionParser.parse(classic, { currentDate: after, tz: 'UTC' }).next().toDate();
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
  if (scale < 1) return startScaledRate(expression, scale, fire);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const arm = () => {
    const next = nextFireTime(expression, new Date());
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
