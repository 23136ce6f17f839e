/** Times as CloudTrail writes them: ISO 8601 seconds, the compact form of file names, and Java-style dates. */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
let lastIsoSec = NaN;
let lastIso = '';

/** `YYYY-MM-DDTHH:MM:SSZ` for epoch seconds. */
export function isoTime(sec: number): string {
  if (sec === lastIsoSec) return lastIso;
  lastIsoSec = sec;
  lastIso = `${new Date(sec * 1000).toISOString().slice(0, 19)}Z`;
  return lastIso;
}

/** `YYYYMMDDTHHmmZ` (log file names) or `YYYYMMDDTHHmmssZ` (digest names). */
export function compactTime(sec: number, seconds: boolean): string {
  const s = isoTime(sec);
  return (
    s.slice(0, 4) + s.slice(5, 7) + s.slice(8, 10) + 'T' + s.slice(11, 13) + s.slice(14, 16) +
    (seconds ? s.slice(17, 19) : '') + 'Z'
  );
}

/** Java-style dates found in IAM/STS/SSM responses: `Aug 1, 2024 1:33:28 PM` (comma=false). */
export function javaDate(sec: number, comma: boolean): string {
  const d = new Date(sec * 1000);
  const h = d.getUTCHours();
  const h12 = h % 12 === 0 ? 12 : h % 12;
  return (
    `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}, ${d.getUTCFullYear()}${comma ? ',' : ''} ${h12}:` +
    `${String(d.getUTCMinutes()).padStart(2, '0')}:${String(d.getUTCSeconds()).padStart(2, '0')} ${h < 12 ? 'AM' : 'PM'}`
  );
}
