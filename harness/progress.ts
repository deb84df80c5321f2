// Progress lines for long work: one plain line per step with elapsed seconds. On a TTY the
// last line of a running step's output is shown in place; elsewhere (CI logs) that line is
// printed as a plain line at most every 10 s, so long steps still show they are moving.
export interface Progress {
  step(message: string): void;
  /** A line of tool output while a step runs (in place on a TTY, sampled every 10 s otherwise). */
  detail(line: string): void;
  done(message: string): void;
  warn(message: string): void;
}

export function consoleProgress(prefix = 'vnvme', stream: NodeJS.WriteStream = process.stderr): Progress {
  const start = Date.now();
  const tty = stream.isTTY === true;
  let detailShown = false;
  let lastPlainDetail = Date.now();
  const stamp = (): string => `${((Date.now() - start) / 1000).toFixed(1).padStart(6)}s`;
  const clearDetail = (): void => {
    if (detailShown) stream.write('\r\x1b[K');
    detailShown = false;
  };
  const line = (text: string): void => {
    clearDetail();
    stream.write(`[${prefix} ${stamp()}] ${text}\n`);
  };
  return {
    step: (m) => line(m),
    done: (m) => line(m),
    warn: (m) => line(`WARNING: ${m}`),
    detail: (l) => {
      if (!tty) {
        if (Date.now() - lastPlainDetail < 10_000) return;
        lastPlainDetail = Date.now();
        stream.write(`[${prefix} ${stamp()}]   ... ${l.trim().slice(0, 160)}\n`);
        return;
      }
      const width = stream.columns && stream.columns > 4 ? stream.columns - 4 : Number.POSITIVE_INFINITY;
      stream.write(`\r\x1b[K  ${l.replace(/\s+/g, ' ').slice(0, width)}`);
      detailShown = true;
    },
  };
}

/** For tests and library callers that want silence. */
export const silentProgress: Progress = { step() {}, detail() {}, done() {}, warn() {} };
