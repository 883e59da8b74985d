// Date as objects see it on workerd: the clock is the simulation's (passed in as `now`),
// and the time zone is always UTC, whatever the host's TZ (local-time methods, toString
// and the component constructor give what they give in UTC). Evaluated (as a module, from
// bytecode compiled once) in every isolate before anything else; it defines `__dosimInstallDate(now)`.
globalThis.__dosimInstallDate = (now) => {
  const RealDate = Date;
  const proto = RealDate.prototype;
  for (const part of ["FullYear", "Month", "Date", "Hours", "Minutes", "Seconds", "Milliseconds"]) {
    proto["get" + part] = proto["getUTC" + part];
    proto["set" + part] = proto["setUTC" + part];
  }
  proto.getDay = proto.getUTCDay;
  proto.getYear = function () {
    return this.getUTCFullYear() - 1900;
  };
  proto.getTimezoneOffset = function () {
    return Number.isNaN(this.getTime()) ? NaN : 0;
  };
  const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const two = (n) => String(n).padStart(2, "0");
  const year = (y) => (y < 0 ? "-" + String(-y).padStart(6, "0") : String(y).padStart(4, "0"));
  const valid = (d) => !Number.isNaN(d.getTime());
  const datePart = (d) =>
    `${days[d.getUTCDay()]} ${months[d.getUTCMonth()]} ${two(d.getUTCDate())} ${year(d.getUTCFullYear())}`;
  const timePart = (d) =>
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} GMT+0000 (Coordinated Universal Time)`;
  proto.toString = function () {
    return valid(this) ? `${datePart(this)} ${timePart(this)}` : "Invalid Date";
  };
  proto.toDateString = function () {
    return valid(this) ? datePart(this) : "Invalid Date";
  };
  proto.toTimeString = function () {
    return valid(this) ? timePart(this) : "Invalid Date";
  };
  // en-US, as workerd formats with no locale given.
  const localeDate = (d) => `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()}`;
  const localeTime = (d) => {
    const h = d.getUTCHours();
    return `${h % 12 === 0 ? 12 : h % 12}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} ${h < 12 ? "AM" : "PM"}`;
  };
  proto.toLocaleString = function () {
    return valid(this) ? `${localeDate(this)}, ${localeTime(this)}` : "Invalid Date";
  };
  proto.toLocaleDateString = function () {
    return valid(this) ? localeDate(this) : "Invalid Date";
  };
  proto.toLocaleTimeString = function () {
    return valid(this) ? localeTime(this) : "Invalid Date";
  };
  function SimDate(...args) {
    if (!new.target) return new RealDate(now()).toString();
    if (args.length === 0) return new RealDate(now());
    // Components are local time, and local time is UTC.
    if (args.length >= 2) return new RealDate(RealDate.UTC(...args));
    return new RealDate(args[0]);
  }
  SimDate.prototype = proto;
  SimDate.now = () => now();
  SimDate.parse = RealDate.parse;
  SimDate.UTC = RealDate.UTC;
  Object.defineProperty(proto, "constructor", { value: SimDate, writable: true, configurable: true });
  globalThis.Date = SimDate;
  globalThis.performance = { now: () => now(), timeOrigin: 0 };
  return RealDate;
};
