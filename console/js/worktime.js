// @ts-check
// Review deadlines count China working hours: Asia/Shanghai (UTC+8 all year, no daylight saving),
// 09:00-18:00 Monday to Friday. The API computes review_due_at with public holidays and make-up
// workdays; this countdown only counts the working time left between now and that deadline.

const OFFSET_MS = 8 * 3600 * 1000;
const DAY_MS = 24 * 3600 * 1000;
const OPEN_H = 9;
const CLOSE_H = 18;

/** Working milliseconds between two instants (0 when `to` is not after `from`). */
export function workingMs(from, to) {
  let start = from.getTime() + OFFSET_MS; // Shanghai wall clock expressed as a UTC timestamp
  const end = to.getTime() + OFFSET_MS;
  let total = 0;
  while (start < end) {
    const dayStart = Math.floor(start / DAY_MS) * DAY_MS;
    const weekday = new Date(dayStart).getUTCDay();
    if (weekday !== 0 && weekday !== 6) {
      const open = dayStart + OPEN_H * 3600 * 1000;
      const close = dayStart + CLOSE_H * 3600 * 1000;
      const a = Math.max(start, open);
      const b = Math.min(end, close);
      if (b > a) total += b - a;
    }
    start = dayStart + DAY_MS;
  }
  return total;
}

export function duration(ms) {
  const minutes = Math.floor(ms / 60000);
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  const s = Math.floor((ms % 60000) / 1000);
  if (h) return `${h} h ${String(m).padStart(2, "0")} min`;
  return `${m} min ${String(s).padStart(2, "0")} s`;
}

/** {overdue, text} for a review deadline at `dueIso`, as seen at `now`. */
export function countdown(dueIso, now = new Date()) {
  if (!dueIso) return { overdue: false, text: "no deadline" };
  const due = new Date(dueIso);
  if (now >= due) return { overdue: true, text: `overdue by ${duration(now.getTime() - due.getTime())}` };
  const left = workingMs(now, due);
  return { overdue: false, text: `${duration(left)} working time left` };
}
